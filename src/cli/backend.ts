import { initBackend } from "../backend/index";

/** `darkmatter backend [--json]`: prints the backend that runs and why. */
export async function run(args: string[]): Promise<number> {
  const info = await initBackend();
  if (args.includes("--json")) console.log(JSON.stringify(info, null, 2));
  else console.log(`backend: ${info.name}\nwhy: ${info.reason}\navailable here: ${info.available.join(", ")}`);
  return 0;
}
