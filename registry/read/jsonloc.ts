// Finds the line of a JSON pointer in a JSON text, so findings can point an editor (or a GitHub
// annotation) at the right line. A small scanner: it only records where each value starts.

export function lineOfPointer(text: string, pointer: string | null): number | undefined {
  if (pointer === null) return undefined;
  const lines = new Map<string, number>();
  try {
    new Scanner(text, lines).scanValue("");
  } catch {
    return undefined;
  }
  // Fall back to the nearest ancestor that exists (compatibility pointers can run through a $ref).
  let p = pointer;
  for (;;) {
    const line = lines.get(p);
    if (line !== undefined) return line;
    if (p === "") return undefined;
    p = p.slice(0, p.lastIndexOf("/"));
  }
}

class Scanner {
  private i = 0;
  private line = 1;
  constructor(private readonly s: string, private readonly out: Map<string, number>) {}

  private ws(): void {
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (c === "\n") this.line++;
      else if (c !== " " && c !== "\t" && c !== "\r" && c !== "\uFEFF") return;
      this.i++;
    }
  }

  scanValue(ptr: string, keyLine?: number): void {
    this.ws();
    this.out.set(ptr, keyLine ?? this.line);
    const c = this.s[this.i];
    if (c === "{") return this.scanObject(ptr);
    if (c === "[") return this.scanArray(ptr);
    if (c === '"') {
      this.scanString();
      return;
    }
    while (this.i < this.s.length && !/[\s,\]}]/.test(this.s[this.i]!)) this.i++;
  }

  private scanString(): string {
    const start = this.i;
    this.i++;
    while (this.i < this.s.length && this.s[this.i] !== '"') {
      if (this.s[this.i] === "\\") this.i++;
      this.i++;
    }
    this.i++;
    return JSON.parse(this.s.slice(start, this.i)) as string;
  }

  private scanObject(ptr: string): void {
    this.i++;
    for (;;) {
      this.ws();
      if (this.s[this.i] === "}") {
        this.i++;
        return;
      }
      if (this.s[this.i] === ",") {
        this.i++;
        continue;
      }
      const keyLine = this.line;
      const key = this.scanString();
      this.ws();
      this.i++; // ':'
      this.scanValue(`${ptr}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`, keyLine);
    }
  }

  private scanArray(ptr: string): void {
    this.i++;
    let index = 0;
    for (;;) {
      this.ws();
      if (this.s[this.i] === "]") {
        this.i++;
        return;
      }
      if (this.s[this.i] === ",") {
        this.i++;
        continue;
      }
      this.scanValue(`${ptr}/${index++}`);
    }
  }
}
