import { parseArgs } from "util";
import { reproduce } from "../publish/index";

/** `darkmatter reproduce [--profile full|ci|paper] [--out DIR] [--only NAME]...`: the main job. */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      profile: { type: "string", default: "full" },
      out: { type: "string" },
      only: { type: "string", multiple: true },
      jobs: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log("usage: darkmatter reproduce [--profile full|ci|paper] [--out reports] [--only NOTEBOOK_NAME_PART]... [--jobs N (notebooks at once, default 2)]");
    return 0;
  }
  if (values.profile !== "full" && values.profile !== "ci" && values.profile !== "paper") {
    console.error(`darkmatter reproduce: --profile must be full, ci or paper, not ${values.profile}`);
    return 2;
  }
  const jobs = values.jobs === undefined ? undefined : Number(values.jobs);
  if (jobs !== undefined && !(Number.isInteger(jobs) && jobs >= 1)) {
    console.error(`darkmatter reproduce: --jobs must be a positive integer, not ${values.jobs}`);
    return 2;
  }
  await reproduce({ profile: values.profile, outDir: values.out, only: values.only, jobs });
  return 0;
}
