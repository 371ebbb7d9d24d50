import { gs1DirProblem } from './gs1.ts';

/** The suite fails at once, naming PROVENANT_GS1_DIR, when GS1's reference files are missing: it never passes empty. */
export default function setup(): void {
  const problem = gs1DirProblem();
  if (problem) throw new Error(problem);
}
