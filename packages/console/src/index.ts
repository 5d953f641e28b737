// What the server side needs of the console: where its bundle is (made by bundle.ts at
// build time; the API serves it at /console/).
import { fileURLToPath } from 'node:url';

export const CONSOLE_PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
