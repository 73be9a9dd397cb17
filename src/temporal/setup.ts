/**
 * What a Temporal namespace needs before scrapeflow can start batches in it: the namespace itself and
 * every search attribute of ALL_SEARCH_ATTRIBUTES with its type. `checkSetup` reads it (every start
 * does, so a start against a bare cluster fails with what to run, before anything is stored);
 * `setUpNamespace` makes it so (`scrapeflow cluster setup`), idempotently. The dev server registers the
 * same attributes from the same list at start-up (devkit/temporal/dev-server.ts).
 */
import type { ConnectionLike } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import type { SearchAttributeType } from '@temporalio/common';
import proto from '@temporalio/proto';
import { ALL_SEARCH_ATTRIBUTES, SEARCH_ATTRIBUTES } from './search-attributes.js';
import { TemporalNotSetUpError } from '../errors.js';
import { DEFAULT_RETENTION_MS } from './defaults.js';

const { IndexedValueType } = proto.temporal.api.enums.v1;
type IndexedValueType = proto.temporal.api.enums.v1.IndexedValueType;

/** The parts of a client connection these checks use. */
type Services = Pick<ConnectionLike, 'workflowService' | 'operatorService'>;

/** The command that fixes what `checkSetup` finds. */
export const SETUP_COMMAND = 'scrapeflow cluster setup';

/** gRPC status codes met here. */
const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;
const PERMISSION_DENIED = 7;
const UNIMPLEMENTED = 12;

export interface SetupState {
  namespaceExists: boolean;
  /** Attributes not registered, by name. */
  missing: string[];
  /** Attributes registered with another type: name, the type found and the type scrapeflow needs. */
  wrongType: Array<{ name: string; found: string; needed: string }>;
  /** False when the server would not list the namespace's search attributes (a restricted API key). */
  attributesChecked: boolean;
}

function indexedTypeOf(type: SearchAttributeType): IndexedValueType {
  return IndexedValueType[`INDEXED_VALUE_TYPE_${type}` as keyof typeof IndexedValueType];
}

/** `Keyword`, `Text`, … as the Temporal CLI writes a type. */
function typeName(value: IndexedValueType | null | undefined): string {
  const raw = (IndexedValueType[value ?? 0] ?? 'UNSPECIFIED').replace('INDEXED_VALUE_TYPE_', '');
  return raw
    .toLowerCase()
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
}

const grpcCode = (err: unknown) => (err as { code?: number }).code;

export async function checkSetup(connection: Services, namespace: string): Promise<SetupState> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch (err) {
    if (grpcCode(err) !== NOT_FOUND) throw err;
    return { namespaceExists: false, missing: [], wrongType: [], attributesChecked: false };
  }
  let registered: Record<string, IndexedValueType>;
  try {
    const listed = await connection.operatorService.listSearchAttributes({ namespace });
    registered = { ...listed.systemAttributes, ...listed.customAttributes };
  } catch (err) {
    const code = grpcCode(err);
    // A namespace registered a moment ago is described before the other services know it.
    if (code === NOT_FOUND)
      return { namespaceExists: false, missing: [], wrongType: [], attributesChecked: false };
    if (code !== PERMISSION_DENIED && code !== UNIMPLEMENTED) throw err;
    // The start itself still reports a missing attribute (see `notSetUpCause`).
    return { namespaceExists: true, missing: [], wrongType: [], attributesChecked: false };
  }
  const missing: string[] = [];
  const wrongType: SetupState['wrongType'] = [];
  for (const key of ALL_SEARCH_ATTRIBUTES) {
    const found = registered[key.name];
    if (found === undefined) missing.push(key.name);
    else if (found !== indexedTypeOf(key.type))
      wrongType.push({
        name: key.name,
        found: typeName(found),
        needed: SEARCH_ATTRIBUTES[key.name] ?? key.type,
      });
  }
  return { namespaceExists: true, missing, wrongType, attributesChecked: true };
}

/** The one-message error for a state that is not ready, or undefined when it is. */
export function setupError(
  state: SetupState,
  namespace: string,
  address: string,
): TemporalNotSetUpError | undefined {
  if (!state.namespaceExists)
    return new TemporalNotSetUpError(
      `the Temporal namespace ${JSON.stringify(namespace)} does not exist at ${address}: create it and ` +
        `register scrapeflow's search attributes with \`${SETUP_COMMAND}\` (or set TEMPORAL_NAMESPACE to an existing one)`,
      { namespace, missing: [namespace] },
    );
  if (state.wrongType.length)
    return new TemporalNotSetUpError(
      `search attribute${state.wrongType.length > 1 ? 's' : ''} of namespace ${JSON.stringify(namespace)} ` +
        `registered with the wrong type: ${state.wrongType.map((w) => `${w.name} is ${w.found}, scrapeflow needs ${w.needed}`).join('; ')}. ` +
        `Remove ${state.wrongType.length > 1 ? 'them' : 'it'} (\`temporal operator search-attribute remove --name ${state.wrongType[0]?.name}\`), then run \`${SETUP_COMMAND}\``,
      { namespace, missing: state.wrongType.map((w) => w.name) },
    );
  if (state.missing.length)
    return new TemporalNotSetUpError(
      `the Temporal namespace ${JSON.stringify(namespace)} lacks scrapeflow's search attribute` +
        `${state.missing.length > 1 ? 's' : ''} ${state.missing.join(', ')}: register them with \`${SETUP_COMMAND}\``,
      { namespace, missing: state.missing },
    );
  return undefined;
}

/** Throws `TemporalNotSetUpError` unless the namespace is ready for scrapeflow. */
export async function requireSetup(connection: Services, namespace: string, address: string): Promise<void> {
  const problem = setupError(await checkSetup(connection, namespace), namespace, address);
  if (problem) throw problem;
}

/**
 * A failed workflow start whose cause is a missing namespace or search attribute, as the one-message
 * error; undefined for any other failure. Covers what `requireSetup` could not see (an API key that
 * may not list attributes) and a setup changed between the check and the start.
 */
export function notSetUpCause(
  err: unknown,
  namespace: string,
  address: string,
): TemporalNotSetUpError | undefined {
  const texts: string[] = [];
  for (let e: unknown = err; e instanceof Error && texts.length < 5; e = e.cause) texts.push(e.message);
  const text = texts.join(' | ');
  if ((err as Error).name === 'NamespaceNotFoundError' || /namespace .* (is )?not found/i.test(text))
    return setupError(
      { namespaceExists: false, missing: [], wrongType: [], attributesChecked: false },
      namespace,
      address,
    );
  const attribute = /no mapping defined for search attribute (\w+)/i.exec(text)?.[1];
  if (attribute)
    return setupError(
      { namespaceExists: true, missing: [attribute], wrongType: [], attributesChecked: false },
      namespace,
      address,
    );
  return undefined;
}

export interface SetupOptions {
  /** How long closed workflows are kept, in ms, when the namespace is created here. @default 72 h */
  retentionMs?: number;
}

export interface SetupOutcome {
  /** True when this run created the namespace. */
  createdNamespace: boolean;
  /** Attributes this run registered. */
  registered: string[];
}

/**
 * Creates the namespace when missing and registers every missing search attribute with its type. A
 * second run changes nothing (`createdNamespace` false, `registered` empty). Refuses, changing
 * nothing, when an attribute exists with another type (a type cannot be changed in place).
 */
export async function setUpNamespace(
  connection: Services,
  namespace: string,
  address: string,
  options: SetupOptions = {},
): Promise<SetupOutcome> {
  let state = await checkSetup(connection, namespace);
  let createdNamespace = false;
  if (!state.namespaceExists) {
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs(options.retentionMs ?? DEFAULT_RETENTION_MS),
      });
      createdNamespace = true;
    } catch (err) {
      if (grpcCode(err) !== ALREADY_EXISTS) throw err;
    }
    state = await waitForNamespace(connection, namespace);
  }
  if (!state.attributesChecked)
    throw new Error(
      `the server at ${address} does not let this client list the search attributes of ${JSON.stringify(namespace)}`,
    );
  const wrong = setupError({ ...state, missing: [] }, namespace, address);
  if (wrong) throw wrong;
  if (state.missing.length) {
    const searchAttributes = Object.fromEntries(
      ALL_SEARCH_ATTRIBUTES.filter((key) => state.missing.includes(key.name)).map((key) => [
        key.name,
        indexedTypeOf(key.type),
      ]),
    );
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
  }
  return { createdNamespace, registered: state.missing };
}

/** A namespace just registered is described at once by some servers, a moment later by others. */
async function waitForNamespace(connection: Services, namespace: string): Promise<SetupState> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const state = await checkSetup(connection, namespace);
    if (state.namespaceExists || Date.now() > deadline) return state;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
