import { gs1DirProblem } from './gs1.ts';

/**
 * The suite fails at once, naming PROVENANT_GS1_DIR, when GS1's reference files are missing: it never passes empty.
 * It exits here rather than throwing: a throwing global setup makes vitest print "No test files found" first, which
 * would hide the real reason.
 */
export default function setup(): void {
  const problem = gs1DirProblem();
  if (!problem) return;
  process.stderr.write(`\nnpm run test:conformance: FAILED. ${problem}\n\n`);
  process.exit(1);
}
