package credentials

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// DefaultTimeout bounds a Client request when its context has no deadline.
const DefaultTimeout = 5 * time.Second

// ClientOptions configure a Client.
type ClientOptions struct {
	// Timeout bounds each request whose context has no deadline (default
	// DefaultTimeout, 5 s).
	Timeout time.Duration
}

// Client calls the credential broker over NATS request/reply. It is safe
// for concurrent use.
//
// Errors: ErrNotFound (404), ErrExists (409), *ValidationError (400, with
// the field at fault), ErrUnavailable when no broker answers (no
// responders, or no reply in time: retry later) or the broker's store is
// unavailable (503), and *ServiceError for other broker failures (500; it
// matches ErrWrongKey or ErrTampered when the credential cannot be
// opened). A cancelled context returns its error.
type Client struct {
	nc      *nats.Conn
	timeout time.Duration
}

// NewClient returns a Client on nc.
func NewClient(nc *nats.Conn, opts ClientOptions) *Client {
	return &Client{nc: nc, timeout: cmp.Or(opts.Timeout, DefaultTimeout)}
}

// Get returns the credential id with its secret document. The result holds
// plaintext secrets in Fields: pass it on (AirbyteConfiguration), never log
// its Fields.
func (c *Client) Get(ctx context.Context, id string) (Credential, error) {
	var reply GetReply
	if err := c.call(ctx, SubjectGet, id, IDRequest{CredentialID: id}, &reply); err != nil {
		return Credential{}, err
	}
	return reply.Credential(), nil
}

// Put creates a credential (version 1). cred.Version and timestamps are
// ignored.
func (c *Client) Put(ctx context.Context, cred Credential) (Metadata, error) {
	var md Metadata
	err := c.call(ctx, SubjectPut, cred.ID, PutRequest{CredentialID: cred.ID, Kind: cred.Kind, Fields: unwrapFields(cred.Fields)}, &md)
	return md, err
}

// Rotate replaces a credential's document and returns its new metadata
// (version incremented). An empty cred.Kind keeps the stored kind.
func (c *Client) Rotate(ctx context.Context, cred Credential) (Metadata, error) {
	var md Metadata
	err := c.call(ctx, SubjectRotate, cred.ID, PutRequest{CredentialID: cred.ID, Kind: cred.Kind, Fields: unwrapFields(cred.Fields)}, &md)
	return md, err
}

// Delete deletes a credential.
func (c *Client) Delete(ctx context.Context, id string) error {
	var reply DeleteReply
	return c.call(ctx, SubjectDelete, id, IDRequest{CredentialID: id}, &reply)
}

// List returns the metadata of every credential (of kind, when not empty),
// by id. No secret value is sent.
func (c *Client) List(ctx context.Context, kind string) ([]Metadata, error) {
	var reply ListReply
	if err := c.call(ctx, SubjectList, "", ListRequest{Kind: kind}, &reply); err != nil {
		return nil, err
	}
	return reply.Credentials, nil
}

func unwrapFields(fields map[string]any) map[string]any {
	m, _ := unwrapSecrets(fields).(map[string]any)
	return m
}

// call sends req to subject and decodes the reply into out, or maps the
// broker's error reply.
func (c *Client) call(ctx context.Context, subject, id string, req, out any) error {
	data, err := json.Marshal(req)
	if err != nil {
		return &ValidationError{Field: "fields", Reason: "values must be JSON values"}
	}
	defer clear(data)
	timeout := c.timeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = time.Until(deadline)
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	msg, err := c.nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		return c.requestError(ctx, subject, timeout, err)
	}
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		return replyError(code, msg.Header.Get(micro.ErrorHeader), id, msg.Data)
	}
	if err := json.Unmarshal(msg.Data, out); err != nil {
		return fmt.Errorf("credentials: %s: the reply is not the expected JSON", subject)
	}
	return nil
}

func (c *Client) requestError(ctx context.Context, subject string, timeout time.Duration, err error) error {
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("%w: no credential broker is answering on %s (%w)", ErrUnavailable, subject, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return fmt.Errorf("%w: no reply on %s within %s (%w)", ErrUnavailable, subject, timeout.Round(time.Millisecond), err)
	case ctx.Err() != nil:
		return fmt.Errorf("credentials: %s: %w", subject, ctx.Err())
	default:
		return fmt.Errorf("credentials: %s: %w", subject, err)
	}
}

// replyError maps a micro error reply to the package's errors.
func replyError(code, description, id string, body []byte) error {
	var detail ErrorDetail
	_ = json.Unmarshal(body, &detail)
	switch code {
	case CodeBadRequest:
		if detail.Reason != "" {
			return &ValidationError{Field: detail.Field, Reason: detail.Reason}
		}
		return &ValidationError{Reason: description}
	case CodeNotFound:
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	case CodeExists:
		return fmt.Errorf("%w: %q", ErrExists, id)
	}
	se := &ServiceError{Code: code, Description: description, ErrorID: detail.ErrorID}
	switch {
	case code == CodeUnavailable:
		se.kind = ErrUnavailable
	case detail.Error == "wrong_key":
		se.kind = ErrWrongKey
	case detail.Error == "tampered":
		se.kind = ErrTampered
	}
	return se
}
