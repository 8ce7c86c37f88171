// Builder flags (`--name=value`) checked against what each instruction accepts (BuildKit's bflag.go).

/** A flag problem; the instruction reader adds the Dockerfile place. */
export class FlagError extends Error {}

type FlagType = "bool" | "string" | "strings";

interface Flag {
  type: FlagType;
  value: string;
  values: string[];
}

export class BuilderFlags {
  private readonly defined = new Map<string, Flag>();
  readonly used = new Set<string>();

  constructor(private readonly args: string[]) {}

  private add(name: string, type: FlagType, value: string): Flag {
    const flag: Flag = { type, value, values: [] };
    this.defined.set(name, flag);
    return flag;
  }
  addBool(name: string, def = false): Flag {
    return this.add(name, "bool", def ? "true" : "false");
  }
  addString(name: string, def = ""): Flag {
    return this.add(name, "string", def);
  }
  addStrings(name: string): Flag {
    return this.add(name, "strings", "");
  }

  /** Check the written flags against the defined ones and record their values. */
  parse(): void {
    for (const written of this.args) {
      if (!written.startsWith("--")) throw new FlagError(`flag should start with -- : ${written}`);
      if (written === "--") return;
      let name = written.slice(2);
      let value = "";
      const eq = name.indexOf("=");
      if (eq >= 0) {
        value = name.slice(eq + 1);
        name = name.slice(0, eq);
      }
      const flag = this.defined.get(name);
      if (!flag) throw new FlagError(`unknown flag: --${name}`);
      if (this.used.has(name) && flag.type !== "strings") throw new FlagError(`duplicate flag specified: --${name}`);
      this.used.add(name);
      switch (flag.type) {
        case "bool": {
          // a bare --flag is true; --flag= is an error
          if (eq >= 0 && value === "") throw new FlagError(`missing a value on flag: --${name}`);
          const lower = value.toLowerCase();
          if (lower === "") flag.value = "true";
          else if (lower === "true" || lower === "false") flag.value = lower;
          else throw new FlagError(`expecting boolean value for flag --${name}, not: ${value}`);
          break;
        }
        case "string":
          if (eq < 0) throw new FlagError(`missing a value on flag: --${name}`);
          flag.value = value;
          break;
        case "strings":
          if (eq < 0) throw new FlagError(`missing a value on flag: --${name}`);
          flag.values.push(value);
          break;
      }
    }
  }
}

/** A string flag's value, or undefined when it was not given (or given empty). */
export function optional(flag: Flag): string | undefined {
  return flag.value === "" ? undefined : flag.value;
}
