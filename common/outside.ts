// Whether this process has reached outside the machine (a registry, a URL, a git remote). A build that
// did cannot be replayed from its up-to-date memo (cli/uptodate/record.ts): what it asked may answer
// differently next time, and the build asks again.
let reached = false;

export function noteOutsideReached(): void {
  reached = true;
}

export function outsideReached(): boolean {
  return reached;
}
