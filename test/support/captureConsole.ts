/** Captures everything written through console.* while `fn` runs. */
export async function captureConsole<T>(fn: () => Promise<T>): Promise<{ result: T; output: string }> {
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  const saved = methods.map((m) => console[m].bind(console));
  const chunks: string[] = [];
  for (const m of methods) console[m] = (...args: unknown[]) => void chunks.push(args.map(String).join(' '));
  try {
    const result = await fn();
    return { result, output: chunks.join('\n') };
  } finally {
    methods.forEach((m, i) => (console[m] = saved[i]!));
  }
}
