// Migration 2: which instance holds each runner's socket, and the mailbox instances pass runner frames through.

/**
 * `maestro_runners` names the instance (and the backend `pid`, with the time, of its lock connection) holding each
 * connected runner; the name itself is held by a session advisory lock on that connection, released by PostgreSQL
 * when the instance dies. `maestro_runner_mail` carries frames for a runner held elsewhere, and their replies: rows
 * live for milliseconds (the receiver deletes them as it reads them), so the table is unlogged.
 */
export default `
CREATE TABLE maestro_runners (
  name text PRIMARY KEY,
  instance text NOT NULL,
  pid integer NOT NULL,
  since timestamptz NOT NULL DEFAULT now()
);
CREATE UNLOGGED TABLE maestro_runner_mail (
  id bigserial PRIMARY KEY,
  to_instance text NOT NULL,
  body json NOT NULL
);
CREATE INDEX maestro_runner_mail_to ON maestro_runner_mail (to_instance, id);
`;
