package emulator

import "strings"

// SalesforceDefinitionID is source-salesforce's definition id (connector
// metadata.yaml; the public API's sourceType "salesforce").
const SalesforceDefinitionID = "b117307c-14b6-41aa-9422-947e34922962"

// PostgresDestinationDefinitionID is destination-postgres's definition id.
const PostgresDestinationDefinitionID = "25c5221d-dce2-4163-ade9-739ef790f503"

// salesforceSuggested are the streams metadata.yaml pre-selects in a new connection.
var salesforceSuggested = []string{"Account", "Contact", "Lead", "Opportunity", "OpportunityStage", "Stage", "Task", "User"}

// sfField is one SObject field: its name and Salesforce describe type.
type sfField struct{ name, typ string }

func f(name, typ string) sfField { return sfField{name, typ} }

// salesforceObjects is the emulated org: standard objects with a realistic subset
// of their fields, in describe order.
var salesforceObjects = []struct {
	name   string
	fields []sfField
}{
	{"Account", []sfField{f("Id", "id"), f("IsDeleted", "boolean"), f("MasterRecordId", "reference"), f("Name", "string"),
		f("Type", "picklist"), f("ParentId", "reference"), f("BillingAddress", "address"), f("ShippingAddress", "address"),
		f("Phone", "phone"), f("Website", "url"), f("Industry", "picklist"), f("AnnualRevenue", "currency"),
		f("NumberOfEmployees", "int"), f("Description", "textarea"), f("OwnerId", "reference"), f("CreatedDate", "datetime"),
		f("CreatedById", "reference"), f("LastModifiedDate", "datetime"), f("LastModifiedById", "reference"),
		f("SystemModstamp", "datetime"), f("LastActivityDate", "date")}},
	{"Contact", []sfField{f("Id", "id"), f("IsDeleted", "boolean"), f("AccountId", "reference"), f("LastName", "string"),
		f("FirstName", "string"), f("Name", "string"), f("MailingAddress", "address"), f("Phone", "phone"),
		f("Email", "email"), f("Title", "string"), f("LeadSource", "picklist"), f("Birthdate", "date"), f("OwnerId", "reference"),
		f("CreatedDate", "datetime"), f("LastModifiedDate", "datetime"), f("SystemModstamp", "datetime")}},
	{"Lead", []sfField{f("Id", "id"), f("IsDeleted", "boolean"), f("LastName", "string"), f("FirstName", "string"),
		f("Company", "string"), f("Address", "address"), f("Email", "email"), f("Status", "picklist"), f("Rating", "picklist"),
		f("AnnualRevenue", "currency"), f("NumberOfEmployees", "int"), f("IsConverted", "boolean"),
		f("ConvertedDate", "date"), f("OwnerId", "reference"), f("CreatedDate", "datetime"), f("LastModifiedDate", "datetime"),
		f("SystemModstamp", "datetime")}},
	{"Opportunity", []sfField{f("Id", "id"), f("IsDeleted", "boolean"), f("AccountId", "reference"), f("Name", "string"),
		f("StageName", "picklist"), f("Amount", "currency"), f("Probability", "percent"), f("ExpectedRevenue", "currency"),
		f("CloseDate", "date"), f("Type", "picklist"), f("IsClosed", "boolean"), f("IsWon", "boolean"),
		f("ForecastCategory", "picklist"), f("OwnerId", "reference"), f("CreatedDate", "datetime"),
		f("LastModifiedDate", "datetime"), f("SystemModstamp", "datetime")}},
	{"OpportunityStage", []sfField{f("Id", "id"), f("MasterLabel", "string"), f("ApiName", "string"), f("IsActive", "boolean"),
		f("SortOrder", "int"), f("IsClosed", "boolean"), f("IsWon", "boolean"), f("ForecastCategory", "picklist"),
		f("DefaultProbability", "percent"), f("CreatedDate", "datetime"), f("LastModifiedDate", "datetime"),
		f("SystemModstamp", "datetime")}},
	{"Stage", []sfField{f("Id", "id"), f("DurableId", "string"), f("Label", "string"), f("Name", "string"),
		f("SortOrder", "int"), f("IsActive", "boolean"), f("CreatedDate", "datetime"), f("SystemModstamp", "datetime")}},
	{"Task", []sfField{f("Id", "id"), f("WhoId", "reference"), f("WhatId", "reference"), f("Subject", "combobox"),
		f("ActivityDate", "date"), f("Status", "picklist"), f("Priority", "picklist"), f("IsHighPriority", "boolean"),
		f("OwnerId", "reference"), f("Description", "textarea"), f("IsDeleted", "boolean"), f("IsClosed", "boolean"),
		f("CallDurationInSeconds", "int"), f("CreatedDate", "datetime"), f("LastModifiedDate", "datetime"),
		f("SystemModstamp", "datetime")}},
	{"User", []sfField{f("Id", "id"), f("Username", "string"), f("LastName", "string"), f("FirstName", "string"),
		f("Name", "string"), f("CompanyName", "string"), f("Address", "address"), f("Email", "email"),
		f("Alias", "string"), f("IsActive", "boolean"), f("TimeZoneSidKey", "picklist"), f("UserRoleId", "reference"),
		f("ProfileId", "reference"), f("LastLoginDate", "datetime"), f("CreatedDate", "datetime"),
		f("LastModifiedDate", "datetime"), f("SystemModstamp", "datetime")}},
	{"Campaign", []sfField{f("Id", "id"), f("IsDeleted", "boolean"), f("Name", "string"), f("ParentId", "reference"),
		f("Type", "picklist"), f("Status", "picklist"), f("StartDate", "date"), f("EndDate", "date"),
		f("ExpectedRevenue", "currency"), f("BudgetedCost", "currency"), f("ActualCost", "currency"),
		f("NumberOfLeads", "int"), f("IsActive", "boolean"), f("OwnerId", "reference"), f("CreatedDate", "datetime"),
		f("LastModifiedDate", "datetime"), f("SystemModstamp", "datetime")}},
	{"Case", []sfField{f("Id", "id"), f("IsDeleted", "boolean"), f("CaseNumber", "string"), f("ContactId", "reference"),
		f("AccountId", "reference"), f("Subject", "string"), f("Status", "picklist"), f("Priority", "picklist"),
		f("Origin", "picklist"), f("IsClosed", "boolean"), f("ClosedDate", "datetime"), f("Description", "textarea"),
		f("OwnerId", "reference"), f("CreatedDate", "datetime"), f("LastModifiedDate", "datetime"),
		f("SystemModstamp", "datetime")}},
	{"AccountHistory", []sfField{f("Id", "id"), f("IsDeleted", "boolean"), f("AccountId", "reference"),
		f("CreatedById", "reference"), f("CreatedDate", "datetime"), f("Field", "picklist"), f("DataType", "picklist"),
		f("OldValue", "anyType"), f("NewValue", "anyType")}},
	{"LoginHistory", []sfField{f("Id", "id"), f("UserId", "reference"), f("LoginTime", "datetime"), f("LoginType", "picklist"),
		f("SourceIp", "string"), f("LoginUrl", "string"), f("Browser", "string"), f("Platform", "string"),
		f("Status", "string"), f("Application", "string"), f("LoginGeo", "location")}},
}

// salesforceCatalog builds the streams source-salesforce discovers for the org
// above, following source_salesforce/api.py: stream per SObject, primary key Id,
// cursor the first of SystemModstamp, LastModifiedDate, CreatedDate, LoginTime.
func salesforceCatalog() []Stream {
	out := make([]Stream, 0, len(salesforceObjects))
	for _, o := range salesforceObjects {
		props := map[string]any{}
		has := map[string]bool{}
		for _, fl := range o.fields {
			props[fl.name] = salesforceFieldSchema(fl.typ)
			has[fl.name] = true
		}
		s := Stream{
			Name: o.name,
			JSONSchema: map[string]any{
				"$schema":              "http://json-schema.org/draft-07/schema#",
				"type":                 "object",
				"additionalProperties": true,
				"properties":           props,
			},
			SupportedSyncModes:      []string{"full_refresh"},
			DefaultCursorField:      []string{},
			SourceDefinedPrimaryKey: [][]string{},
			IsResumable:             true,
		}
		if has["Id"] {
			s.SourceDefinedPrimaryKey = [][]string{{"Id"}}
		}
		for _, c := range []string{"SystemModstamp", "LastModifiedDate", "CreatedDate", "LoginTime"} {
			if has[c] {
				s.SupportedSyncModes = []string{"full_refresh", "incremental"}
				s.SourceDefinedCursor = true
				s.DefaultCursorField = []string{c}
				break
			}
		}
		out = append(out, s)
	}
	return out
}

// salesforceFieldSchema maps a Salesforce describe type to the JSON schema the
// connector emits (source_salesforce/api.py#field_to_property_schema).
func salesforceFieldSchema(typ string) map[string]any {
	str := func() map[string]any { return map[string]any{"type": []any{"string", "null"}} }
	switch typ {
	case "date":
		s := str()
		s["format"] = "date"
		return s
	case "datetime":
		s := str()
		s["format"] = "date-time"
		return s
	case "currency", "double", "percent", "long":
		return map[string]any{"type": []any{"number", "null"}}
	case "int":
		return map[string]any{"type": []any{"integer", "null"}}
	case "boolean":
		return map[string]any{"type": []any{"boolean", "null"}}
	case "base64":
		s := str()
		s["format"] = "base64"
		return s
	case "address":
		props := map[string]any{}
		for _, p := range []string{"street", "state", "postalCode", "city", "country", "geocodeAccuracy"} {
			props[p] = map[string]any{"type": []any{"null", "string"}}
		}
		for _, p := range []string{"longitude", "latitude"} {
			props[p] = map[string]any{"type": []any{"null", "number"}}
		}
		return map[string]any{"type": []any{"object", "null"}, "properties": props}
	case "location":
		return map[string]any{"type": []any{"object", "null"}, "properties": map[string]any{
			"longitude": map[string]any{"type": []any{"null", "number"}},
			"latitude":  map[string]any{"type": []any{"null", "number"}},
		}}
	default: // id, string, picklist, reference, textarea, url, email, phone, combobox, anyType, ...
		return str()
	}
}

// salesforceSpec is the connector specification's shape as public-api-sdk.yaml
// `source-salesforce` declares it: required fields, secrets and simple types.
var salesforceSpec = connectorSpec{
	Required: []string{"client_id", "client_secret", "refresh_token"},
	Secrets:  []string{"client_secret", "refresh_token"},
	Types: map[string]string{
		"client_id": "string", "client_secret": "string", "refresh_token": "string", "auth_type": "string",
		"is_sandbox": "boolean", "start_date": "string", "force_use_bulk_api": "boolean",
		"stream_slice_step": "string", "streams_criteria": "array",
	},
	Consts: map[string]string{"auth_type": "Client"},
	Patterns: map[string]string{
		"start_date": `^([0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)?)$`,
	},
}

// aliasName is Airbyte's default aliasName: non-alphanumerics replaced by "_".
func aliasName(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, name)
}
