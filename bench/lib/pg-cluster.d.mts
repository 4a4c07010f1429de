// Types of pg-cluster.mjs, for the tests that import it (test/global-setup.ts).
export function postgresBinDir(): string | undefined;
export interface Cluster {
  /** The superuser's URL to the `postgres` database. */
  url: string;
  stop(): Promise<void>;
}
export function startCluster(options?: { durable?: boolean; prefix?: string }): Promise<Cluster>;
