// The PostgreSQL schema's migrations, in order: version N is the Nth entry. Never edit one that shipped; add one.
// They are TypeScript strings rather than .sql files so that the compiler ships them in dist/ with the code.
import initial from './001-initial.js';
import runners from './002-runners.js';
import unfinishedImport from './003-unfinished-import.js';

export const MIGRATIONS: readonly { name: string; sql: string }[] = [
  { name: '001-initial', sql: initial },
  { name: '002-runners', sql: runners },
  { name: '003-unfinished-import', sql: unfinishedImport },
];
