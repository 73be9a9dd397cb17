/**
 * The browser origins the codec server lets call it unless told others: the Temporal Web UI of a local
 * dev server; and the host names it answers to. Apart from the server so that the CLI names them in
 * its help without loading Fastify.
 */
export const DEFAULT_CORS_ORIGINS = ['http://localhost:8233', 'http://127.0.0.1:8233'];

/** Loopback names: a page of another site reaches a loopback server only under its own name (DNS rebinding). */
export const DEFAULT_ALLOWED_HOSTS = ['localhost', '127.0.0.1', '[::1]'];
