import { expect } from 'vitest';

export interface CaptureOutcome {
  status: number;
  headers: Headers;
  body: any;
  /** The finished capture job, when the document was accepted (202). */
  job?: any;
}

/**
 * POST /epcis/capture (a string or byte body is sent as is), followed to the end of its capture job. A refusal at
 * submission is returned as answered; an accepted document (202 + Location) is polled until its job has finished and
 * returned in the synchronous capture's terms: a succeeded job as `status` 200 with `body` its `result`, a failed one
 * as its `problem`'s status with `body` the problem and `problems` its per-event `errors`.
 */
export async function captureAndWait(origin: string, key: string | null, document: unknown, headers: Record<string, string> = {}): Promise<CaptureOutcome> {
  const body: BodyInit = typeof document === 'string' ? document : document instanceof Uint8Array ? (document as Uint8Array<ArrayBuffer>) : JSON.stringify(document);
  const auth: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  const submitted = await parse(await fetch(`${origin}/epcis/capture`, { method: 'POST', headers: { 'content-type': 'application/ld+json', ...auth, ...headers }, body }));
  if (submitted.status !== 202) return submitted;
  const location = submitted.headers.get('location');
  expect(location, JSON.stringify(submitted.body)).toMatch(/^\/epcis\/capture\/[0-9a-f-]{36}$/);
  for (let i = 0; i < 3000; i++) {
    const polled = await parse(await fetch(`${origin}${location}`, { headers: auth }));
    expect(polled.status, JSON.stringify(polled.body)).toBe(200);
    const job = polled.body;
    if (!job.running) {
      return job.success
        ? { status: 200, headers: submitted.headers, body: job.result, job }
        : { status: job.problem.status, headers: submitted.headers, body: { ...job.problem, problems: job.errors }, job };
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`capture job ${location} did not finish`);
}

/** Status, headers and body of a response: JSON when it parses, else the text (shared by the EPCIS tests). */
export async function parse(res: Response): Promise<CaptureOutcome> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // keep the text
  }
  return { status: res.status, headers: res.headers, body };
}
