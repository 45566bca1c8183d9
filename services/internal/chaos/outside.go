package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
)

// readOutside reads what the checker judges: AAM_EVENTS and AAM_DLQ from
// their first message, the emulator's state and the registry's tables.
func readOutside(ctx context.Context, st *stack) (Outside, error) {
	var out Outside
	nc, err := nats.Connect(st.natsURL, nats.Name("aam-chaos-checker"))
	if err != nil {
		return out, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return out, err
	}
	err = readStream(ctx, js, bus.StreamEvents, func(m jetstream.Msg, md *jetstream.MsgMetadata) {
		h := m.Headers()
		subj, _ := events.PercentDecode(h.Get("ce-subject"))
		out.Facts = append(out.Facts, Fact{Seq: md.Sequence.Stream, ID: h.Get("ce-id"), Type: h.Get("ce-type"),
			Correlation: h.Get("ce-correlationid"), Subject: subj, Headers: fmt.Sprint(h), Data: m.Data(), Time: md.Timestamp})
	})
	if err != nil {
		return out, fmt.Errorf("read %s: %w", bus.StreamEvents, err)
	}
	err = readStream(ctx, js, bus.StreamDLQ, func(m jetstream.Msg, _ *jetstream.MsgMetadata) {
		h := m.Headers()
		out.DLQ = append(out.DLQ, DLQEntry{Subject: m.Subject(), Reason: h.Get(bus.HeaderDLQReason), Headers: fmt.Sprint(h), Data: m.Data()})
	})
	if err != nil {
		return out, fmt.Errorf("read %s: %w", bus.StreamDLQ, err)
	}

	var state struct {
		Sources     []EmuSource     `json:"sources"`
		Connections []EmuConnection `json:"connections"`
		Jobs        struct {
			Total  int `json:"total"`
			Pruned int `json:"pruned"`
		} `json:"jobs"`
	}
	if err := getJSON(ctx, st.emuURL+"/_emulator/state", &state); err != nil {
		return out, fmt.Errorf("emulator state: %w", err)
	}
	out.Sources, out.Connections, out.EmulatorJobs = state.Sources, state.Connections, state.Jobs.Total+state.Jobs.Pruned

	if err := readRegistry(ctx, st.pg.url(), &out); err != nil {
		return out, fmt.Errorf("registry: %w", err)
	}
	out.Logs = logFiles(st.dir)
	return out, nil
}

// readStream calls fn for every message of stream, oldest first.
func readStream(ctx context.Context, js jetstream.JetStream, stream string, fn func(jetstream.Msg, *jetstream.MsgMetadata)) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return err
	}
	// A batch asks for no more than the messages left, so that it ends with
	// the last one instead of leaving its fetch waiting out FetchMaxWait.
	for read := uint64(0); ; {
		batch, err := c.Fetch(int(min(500, max(info.State.Msgs-read, 1))), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return err
		}
		n, done := 0, false
		for m := range batch.Messages() {
			n++
			if done {
				continue // drained, so that the fetch ends
			}
			md, err := m.Metadata()
			if err != nil {
				return err
			}
			fn(m, md)
			done = md.Sequence.Stream >= last
		}
		if done {
			return nil
		}
		if err := batch.Error(); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("stream ended before sequence %d", last)
		}
		read += uint64(n)
	}
}

// readRegistry reads every table of the registry as JSON rows, its bytea
// (ciphertext) columns left out, and the catalog versions' requests.
func readRegistry(ctx context.Context, url string, out *Outside) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name, coalesce(array_agg(column_name::text) FILTER (WHERE data_type = 'bytea'), '{}')
		FROM information_schema.columns WHERE table_schema = 'public' GROUP BY table_name`)
	if err != nil {
		return err
	}
	tables := map[string][]string{}
	for rows.Next() {
		var t string
		var cipher []string
		if err := rows.Scan(&t, &cipher); err != nil {
			return err
		}
		tables[t] = cipher
	}
	if err := rows.Err(); err != nil {
		return err
	}
	names := make([]string, 0, len(tables))
	for t := range tables {
		names = append(names, t)
	}
	sort.Strings(names)
	out.Rows = map[string][]string{}
	for _, t := range names {
		expr := "to_jsonb(t)"
		for _, c := range tables[t] {
			expr += " - '" + strings.ReplaceAll(c, "'", "''") + "'"
		}
		rs, err := conn.Query(ctx, fmt.Sprintf(`SELECT (%s)::text FROM %s t`, expr, pgx.Identifier{t}.Sanitize()))
		if err != nil {
			return err
		}
		for rs.Next() {
			var s string
			if err := rs.Scan(&s); err != nil {
				return err
			}
			out.Rows[t] = append(out.Rows[t], s)
		}
		if err := rs.Err(); err != nil {
			return err
		}
	}
	cv, err := conn.Query(ctx, `SELECT connection_id::text, version_number, request_id FROM sync_catalog_versions`)
	if err != nil {
		return err
	}
	for cv.Next() {
		var v CatalogVersion
		if err := cv.Scan(&v.ConnectionID, &v.Version, &v.RequestID); err != nil {
			return err
		}
		out.CatalogVersion = append(out.CatalogVersion, v)
	}
	return cv.Err()
}

func getJSON(ctx context.Context, url string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func emulatorPost(ctx context.Context, url, body string) error {
	return emulatorCall(ctx, http.MethodPost, url, body)
}

func emulatorDelete(ctx context.Context, url string) error {
	return emulatorCall(ctx, http.MethodDelete, url, "")
}

func emulatorCall(ctx context.Context, method, url, body string) error {
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	return nil
}

// waitNATS waits until the NATS server at url has JetStream answering.
func waitNATS(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		nc, err := nats.Connect(url, nats.Timeout(time.Second))
		if err == nil {
			js, _ := jetstream.New(nc)
			actx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = js.AccountInfo(actx)
			cancel()
			nc.Close()
			if err == nil {
				return nil
			}
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("nats at %s not ready after %s: %v", url, timeout, last)
}
