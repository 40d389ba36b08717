// Terminal output helpers for the CLI: aligned tables, and a progress bar that only draws on a TTY.

export interface Output {
  line(text?: string): void
  error(text: string): void
  isTty: boolean
}

export const consoleOutput: Output = {
  line: (text = '') => process.stdout.write(`${text}\n`),
  error: (text) => process.stderr.write(`${text}\n`),
  isTty: Boolean(process.stdout.isTTY),
}

export function table(rows: (string | number)[][]): string {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, String(cell).length)))
  return rows.map((row) => row.map((cell, index) => (typeof cell === 'number' ? String(cell).padStart(widths[index]!) : String(cell).padEnd(widths[index]!))).join('  ').trimEnd()).join('\n')
}

export class ProgressBar {
  #done = 0
  constructor(private readonly total: number, private readonly enabled: boolean, private readonly width = 30) {}

  tick(): void {
    this.#done += 1
    if (!this.enabled) return
    const filled = Math.round((this.#done / Math.max(1, this.total)) * this.width)
    process.stdout.write(`\r[${'#'.repeat(filled)}${'-'.repeat(this.width - filled)}] ${this.#done}/${this.total}`)
    if (this.#done >= this.total) process.stdout.write('\n')
  }
}
