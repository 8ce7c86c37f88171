// Docker's go-units HumanSizeWithPrecision: decimal units, `%.<precision>g` (trailing zeros dropped).
const UNITS = ["B", "kB", "MB", "GB", "TB", "PB"];

export function dockerSize(bytes: number, precision = 4): string {
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  const shown = Number(v.toPrecision(precision)).toString();
  return `${shown}${UNITS[i]}`;
}
