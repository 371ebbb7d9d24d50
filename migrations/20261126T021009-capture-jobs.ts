import { type Kysely, sql } from 'kysely';

// EPCIS 2.0 capture jobs (`POST /epcis/capture` answers 202 + Location; `GET /epcis/capture/{id}` reports the job).
// A job is a unit of work, not a ledger fact: the events it records are in `events` / `epcis_captures`; this row keeps
// who submitted what and how it ended. The document's text is kept only until the job finishes (`document` is set to
// NULL then): the result (captured events) or the problems (per event) stay.
// `seq` orders the queue (oldest first) and the listing (newest first); `id` is the public capture ID. A `running`
// job holds a lease (`lease_until`, renewed while it runs, `claim` naming the worker's claim): a job whose worker died
// is claimed again once its lease has run out. `result` is written in the capture's own transaction (see
// services/capture-jobs.ts): a job without one has recorded nothing; one with it is never captured again.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    `CREATE TABLE capture_jobs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        actor_id uuid NOT NULL REFERENCES actors(id),
        status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
        created_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz,
        document text,
        document_bytes integer NOT NULL CHECK (document_bytes >= 0),
        event_count integer NOT NULL CHECK (event_count >= 0),
        idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 200),
        attempts integer NOT NULL DEFAULT 0,
        claim uuid,
        lease_until timestamptz,
        result jsonb,
        failure jsonb,
        errors jsonb,
        CHECK ((status IN ('succeeded', 'failed')) = (finished_at IS NOT NULL)),
        CHECK (status IN ('succeeded', 'failed') OR document IS NOT NULL)
      )`,
    // The queue: queued and running jobs in order (a partial index stays small however many jobs have finished).
    `CREATE INDEX capture_jobs_open ON capture_jobs (seq) WHERE status IN ('queued', 'running')`,
    // One actor's jobs, newest first.
    `CREATE INDEX capture_jobs_actor ON capture_jobs (actor_id, seq DESC)`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE capture_jobs`.execute(db);
}
