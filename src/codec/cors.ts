/**
 * The browser origins the codec server lets call it unless told others: the Temporal Web UI of a local
 * dev server. Apart from the server so that the CLI names them in its help without loading Fastify.
 */
export const DEFAULT_CORS_ORIGINS = ['http://localhost:8233', 'http://127.0.0.1:8233'];
