/** Write text to stdout (or stderr), all of it. */
export async function write(text: string, stderr = false): Promise<void> {
  const data = new TextEncoder().encode(text);
  const out = stderr ? Deno.stderr : Deno.stdout;
  let off = 0;
  while (off < data.length) off += await out.write(data.subarray(off));
}
