package airbytespec

import "strings"

// Quirk names a known disagreement between Airbyte's servers and Airbyte's OpenAPI
// documents that validation tolerates. Each quirk matches only the exact violation it
// describes, on the exact operation it happens on.
type Quirk string

const (
	// QuirkDiscoverWithoutJobInfo: POST /api/v1/sources/discover_schema called with a
	// connectionId and a fresh (uncached) discover returns {catalog, catalogId,
	// catalogDiff, breakingChange, connectionStatus} without jobInfo although
	// SourceDiscoverSchemaRead marks jobInfo required
	// (ConnectionsHandler.diffCatalogAndConditionallyDisable never fills it).
	QuirkDiscoverWithoutJobInfo Quirk = "discover-without-jobinfo"

	// QuirkAirbyteStreamJSONSchema: config-api.yaml's AirbyteStream lists `json_schema`
	// as required while the property it declares, and the one every server sends and
	// accepts, is `jsonSchema`.
	QuirkAirbyteStreamJSONSchema Quirk = "airbytestream-json_schema"

	// QuirkTokenGrantType: public-api.yaml's ApplicationTokenRequestWithGrant requires
	// `grant_type` but declares the property as `grant-type`; the server ignores the
	// grant type entirely. A token request that spells it `grant-type` (as Airbyte's own
	// wire-format test does) or omits it is accepted.
	QuirkTokenGrantType Quirk = "token-grant-type"

	// QuirkUndeclaredErrorStatus: most operations declare only their success status
	// (and sometimes a contentless 403/404), while the servers answer 400, 401, 404,
	// 409, 422, 429 and 5xx with problem bodies (api-problems.yaml) or, on the
	// Configuration API, KnownExceptionInfo bodies. Such statuses are not reported as
	// undeclared; their bodies are checked against those error shapes instead.
	QuirkUndeclaredErrorStatus Quirk = "undeclared-error-status"
)

const (
	// QuirkDanglingRefs: public-api.yaml references components it does not define
	// (`#/components/schemas/DataplaneCreateResponseBody`,
	// `#/components/responses/ForbiddenResponse`) from the dataplane and embedded
	// operations. The model is built anyway and those operations are left unchecked;
	// the defects are listed by [Specs.LoadWarnings].
	QuirkDanglingRefs Quirk = "dangling-refs"
)

// Quirks lists every tolerated quirk, for documentation and tests.
var Quirks = []Quirk{
	QuirkDiscoverWithoutJobInfo,
	QuirkAirbyteStreamJSONSchema,
	QuirkTokenGrantType,
	QuirkUndeclaredErrorStatus,
	QuirkDanglingRefs,
}

// Job examples in public-api.yaml show `"id": "<uuid>"` where the wire field is an
// integer `jobId`. Examples are not validated, so no quirk is needed for them; the
// JobResponse schema itself (integer jobId) is enforced.

// excuse returns the quirk that excuses a schema violation described by reason at
// location, or "" when none does.
func (ex exchange) excuse(reason, location string) Quirk {
	switch {
	case ex.api == apiConfig && ex.path == ConfigPrefix+"/sources/discover_schema" && ex.status == 200 &&
		isMissingProperty(reason, "jobInfo"):
		if _, ok := ex.jsonField(ex.reqBody, "connectionId"); !ok {
			return ""
		}
		if _, ok := ex.jsonField(ex.respBody, "catalogDiff"); !ok {
			return ""
		}
		return QuirkDiscoverWithoutJobInfo
	case ex.api == apiConfig && isMissingProperty(reason, "json_schema") && strings.Contains(location, "stream"):
		return QuirkAirbyteStreamJSONSchema
	case ex.api == apiPublic && ex.path == PublicPrefix+"/applications/token" && ex.status == 0 &&
		isMissingProperty(reason, "grant_type"):
		return QuirkTokenGrantType
	}
	return ""
}

// isMissingProperty matches the validator's wording for a missing required property.
func isMissingProperty(reason, name string) bool {
	return strings.Contains(reason, "missing propert") && strings.Contains(reason, "'"+name+"'")
}
