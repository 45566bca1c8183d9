// Package repair is the drift repair worker: it consumes
// io.aam.connection.repair.requested.v1 requests from
// aam.requests.connection.repair (durable consumer "repair") and applies a
// new sync catalog to a connection the way the seed's drift repair agent
// did, recording it as a new immutable catalog version:
//
//  1. the connection goes HEALING (committed, with the request as its
//     holder); only an ACTIVE connection can be repaired;
//  2. the source's current catalog is discovered (configuration API,
//     disable_cache true, no connectionId: a read-only discover) and the
//     requested catalog is validated against it before Airbyte is changed:
//     every stream must exist, sync modes must be supported by the stream
//     and the destination, incremental streams need a cursor that exists,
//     source-defined cursors and primary keys may not be contradicted, and
//     modes that deduplicate need a primary key whose fields exist;
//  3. the connection's catalog is replaced (connections/update with the
//     whole catalog, the discover's catalogId as sourceCatalogId and
//     breakingChange false): each stream's definition as discovered,
//     configured as requested;
//  4. in one transaction: catalog version n+1 (with content hash, reason
//     and request id), status ACTIVE, the request's inbox entry and the
//     io.aam.catalog.versioned.v1 fact.
//
// The requested catalog may use the Airbyte protocol's form (stream +
// sync_mode, destination_sync_mode, cursor_field, primary_key, as in the
// seed) or the configuration API's (stream + config{syncMode, ...}); both
// are normalised into the configuration API's syncCatalog.
//
// A catalog that equals the current version (the same streams, definitions
// and configuration) creates no version and makes no Airbyte change: the
// fact says unchanged, with previous_version = new_version.
//
// A rejected catalog, an unknown connection or one that is not ACTIVE ends
// the request with io.aam.connection.repair_failed.v1 naming the stream and
// field at fault, and the connection's status restored in the same
// transaction; Airbyte is not changed.
//
// # Crash safety
//
// A redelivery of the request that holds the connection HEALING resumes the
// repair (a request for a connection another repair holds is retried until
// that repair ends). connections/update converges when repeated, and the
// version, status, inbox entry and fact are one transaction, so a process
// killed at any step creates no duplicate version and no second fact.
package repair
