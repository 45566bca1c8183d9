package schemas_test

import (
	"encoding/json"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/schemas"
)

type asyncAPIDoc struct {
	AsyncAPI string `yaml:"asyncapi"`
	Info     struct {
		Title       string `yaml:"title"`
		Version     string `yaml:"version"`
		Description string `yaml:"description"`
	} `yaml:"info"`
	Servers map[string]struct {
		Host     string `yaml:"host"`
		Protocol string `yaml:"protocol"`
	} `yaml:"servers"`
	Channels map[string]struct {
		Address  string         `yaml:"address"`
		Messages map[string]ref `yaml:"messages"`
	} `yaml:"channels"`
	Operations map[string]struct {
		Action   string `yaml:"action"`
		Channel  ref    `yaml:"channel"`
		Messages []ref  `yaml:"messages"`
	} `yaml:"operations"`
	Components struct {
		Messages map[string]struct {
			Name          string         `yaml:"name"`
			ContentType   string         `yaml:"contentType"`
			Headers       map[string]any `yaml:"headers"`
			Payload       map[string]any `yaml:"payload"`
			CorrelationID *ref           `yaml:"correlationId"`
		} `yaml:"messages"`
		Schemas map[string]struct {
			Properties map[string]any `yaml:"properties"`
		} `yaml:"schemas"`
	} `yaml:"components"`
}

type ref struct {
	Ref string `yaml:"$ref"`
}

func readAsyncAPI(t *testing.T) (asyncAPIDoc, map[string]any) {
	t.Helper()
	b, err := schemas.FS.ReadFile("asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc asyncAPIDoc
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("asyncapi.yaml is not YAML: %v", err)
	}
	var tree map[string]any
	if err := yaml.Unmarshal(b, &tree); err != nil {
		t.Fatal(err)
	}
	return doc, tree
}

// resolve follows a local JSON pointer reference (#/a/b) in the document.
func resolve(t *testing.T, tree map[string]any, r string) any {
	t.Helper()
	if !strings.HasPrefix(r, "#/") {
		t.Fatalf("reference %q is not local", r)
	}
	var cur any = tree
	for _, tok := range strings.Split(r[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("reference %q: %q is not inside an object", r, tok)
		}
		if cur, ok = m[tok]; !ok {
			t.Fatalf("reference %q does not resolve (no %q)", r, tok)
		}
	}
	return cur
}

func TestAsyncAPIDocument(t *testing.T) {
	t.Parallel()
	doc, tree := readAsyncAPI(t)
	if !regexp.MustCompile(`^3\.0\.\d+$`).MatchString(doc.AsyncAPI) {
		t.Fatalf("asyncapi = %q, want 3.0.x", doc.AsyncAPI)
	}
	if doc.Info.Title == "" || doc.Info.Version == "" {
		t.Error("info needs a title and a version")
	}
	for _, want := range []string{"application/cloudevents+json", "AAM_REQUESTS", "AAM_EVENTS", "AAM_DLQ", "aam.dlq."} {
		if !strings.Contains(doc.Info.Description, want) {
			t.Errorf("info.description does not mention %s", want)
		}
	}
	if s, ok := doc.Servers["local"]; !ok || s.Host != "127.0.0.1:4222" || s.Protocol != "nats" {
		t.Errorf("servers.local = %+v, want nats at 127.0.0.1:4222", s)
	}

	// Every channel, operation and message reference resolves.
	walkRefs(t, tree, tree)

	// One channel per catalog subject, one message per catalog type.
	byAddress := map[string]string{}
	for id, ch := range doc.Channels {
		if prev, dup := byAddress[ch.Address]; dup {
			t.Errorf("channels %s and %s share the address %s", prev, id, ch.Address)
		}
		byAddress[ch.Address] = id
	}
	byName := map[string]string{}
	for id, m := range doc.Components.Messages {
		if prev, dup := byName[m.Name]; dup {
			t.Errorf("messages %s and %s share the name %s", prev, id, m.Name)
		}
		byName[m.Name] = id
	}
	var wantAddresses, wantNames []string
	for _, d := range events.Catalog() {
		wantAddresses = append(wantAddresses, d.Subject)
		wantNames = append(wantNames, d.Type)

		chID, ok := byAddress[d.Subject]
		if !ok {
			t.Errorf("no channel for %s", d.Subject)
			continue
		}
		msgID, ok := byName[d.Type]
		if !ok {
			t.Errorf("no message named %s", d.Type)
			continue
		}
		ch := doc.Channels[chID]
		if len(ch.Messages) != 1 {
			t.Errorf("channel %s carries %d messages, want 1", chID, len(ch.Messages))
		}
		for _, r := range ch.Messages {
			if r.Ref != "#/components/messages/"+msgID {
				t.Errorf("channel %s carries %s, want %s", chID, r.Ref, msgID)
			}
		}

		// Exactly one operation on the channel: send for requests, receive
		// for facts.
		wantAction := map[events.Kind]string{events.KindRequest: "send", events.KindFact: "receive"}[d.Kind]
		var ops []string
		for opID, op := range doc.Operations {
			if op.Channel.Ref != "#/channels/"+chID {
				continue
			}
			ops = append(ops, opID)
			if op.Action != wantAction {
				t.Errorf("operation %s on %s is %s, want %s", opID, d.Subject, op.Action, wantAction)
			}
			if len(op.Messages) != 1 || !strings.HasPrefix(op.Messages[0].Ref, "#/channels/"+chID+"/messages/") {
				t.Errorf("operation %s messages = %v, want the channel's message", opID, op.Messages)
			}
		}
		if len(ops) != 1 {
			t.Errorf("%d operations on %s, want 1: %v", len(ops), d.Subject, ops)
		}

		m := doc.Components.Messages[msgID]
		if m.ContentType != events.MediaTypeJSON {
			t.Errorf("message %s contentType %q", msgID, m.ContentType)
		}
		payloadRef, _ := m.Payload["$ref"].(string)
		if payloadRef != "./"+d.Schema {
			t.Errorf("message %s payload $ref = %q, want ./%s", msgID, payloadRef, d.Schema)
		}
		if _, err := fs.Stat(schemas.FS, path.Clean(payloadRef)); err != nil {
			t.Errorf("message %s payload %s: %v", msgID, payloadRef, err)
		}
		// The headers pin ce-type and ce-dataschema to the message.
		headers, _ := json.Marshal(m.Headers)
		for _, want := range []string{`"const":"` + d.Type + `"`, `"const":"` + d.DataSchema() + `"`} {
			if !strings.Contains(string(headers), want) {
				t.Errorf("message %s headers do not pin %s", msgID, want)
			}
		}
		if d.Kind == events.KindFact && d.Type != events.TypeDriftDetected && m.CorrelationID == nil {
			t.Errorf("fact %s has no correlationId", msgID)
		}
	}

	var gotAddresses []string
	for a := range byAddress {
		if strings.HasPrefix(a, events.SubjectDLQPrefix) {
			continue // the dead-letter channel is documented beside the catalog
		}
		gotAddresses = append(gotAddresses, a)
	}
	var gotNames []string
	for n := range byName {
		gotNames = append(gotNames, n)
	}
	for _, s := range [][]string{wantAddresses, wantNames, gotAddresses, gotNames} {
		sort.Strings(s)
	}
	if diff := cmp.Diff(wantAddresses, gotAddresses); diff != "" {
		t.Errorf("channel addresses differ from the catalog subjects (-catalog +asyncapi):\n%s", diff)
	}
	if diff := cmp.Diff(wantNames, gotNames); diff != "" {
		t.Errorf("message names differ from the catalog types (-catalog +asyncapi):\n%s", diff)
	}

	// The binary-mode headers document every CloudEvents attribute AAM uses.
	props := doc.Components.Schemas["cloudEventHeaders"].Properties
	for _, h := range []string{"ce-specversion", "ce-id", "ce-source", "ce-type", "ce-subject", "ce-time",
		"ce-dataschema", "ce-datacontenttype", "ce-correlationid", "ce-traceparent"} {
		if _, ok := props[h]; !ok {
			t.Errorf("cloudEventHeaders does not document %s", h)
		}
	}
}

// TestAsyncAPIDeadLetters checks the dead-letter channel matches DLQSubject.
func TestAsyncAPIDeadLetters(t *testing.T) {
	t.Parallel()
	doc, tree := readAsyncAPI(t)
	ch, ok := doc.Channels["deadLetters"]
	if !ok || ch.Address != "aam.dlq.{request}" {
		t.Fatalf("deadLetters channel = %+v", ch)
	}
	param := resolve(t, tree, "#/channels/deadLetters/parameters/request").(map[string]any)
	var values []string
	for _, v := range param["enum"].([]any) {
		values = append(values, v.(string))
	}
	for _, d := range events.Catalog() {
		if d.Kind != events.KindRequest {
			continue
		}
		suffix := strings.TrimPrefix(events.DLQSubject(d.Subject), events.SubjectDLQPrefix)
		found := false
		for _, v := range values {
			found = found || v == suffix
		}
		if !found {
			t.Errorf("dead-letter parameter does not list %s", suffix)
		}
	}
}

// walkRefs resolves every local $ref found in v.
func walkRefs(t *testing.T, tree map[string]any, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			if s, ok := sub.(string); ok && k == "$ref" {
				if strings.HasPrefix(s, "#/") {
					resolve(t, tree, s)
				} else if _, err := fs.Stat(schemas.FS, path.Clean(s)); err != nil {
					t.Errorf("reference %s: %v", s, err)
				}
				continue
			}
			walkRefs(t, tree, sub)
		}
	case []any:
		for _, sub := range v {
			walkRefs(t, tree, sub)
		}
	}
}
