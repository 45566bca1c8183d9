package airbyte

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"strconv"
)

const (
	// maxPageSize is the largest limit Airbyte accepts.
	maxPageSize = 100
	// maxPages stops an iteration that never ends (a server ignoring offset).
	maxPages = 10_000
)

// query returns the list parameters as query values (workspaceIds repeated,
// as OpenAPI's default form style sends arrays).
func (p ListParams) query(limit, offset int) url.Values {
	q := url.Values{}
	for _, id := range p.WorkspaceIDs {
		q.Add("workspaceIds", id)
	}
	if p.IncludeDeleted {
		q.Set("includeDeleted", "true")
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	return q
}

// paginate iterates a public-API list from offset on, limit items a page.
// It computes offsets itself (the next links may name an internal host) and
// stops at an empty page, a page shorter than limit, or an empty next link.
func paginate[T any](ctx context.Context, limit, offset int, fetch func(ctx context.Context, limit, offset int) (*Page[T], error)) iter.Seq2[T, error] {
	if limit <= 0 || limit > maxPageSize {
		limit = maxPageSize
	}
	offset = max(offset, 0)
	return func(yield func(T, error) bool) {
		var zero T
		for range maxPages {
			page, err := fetch(ctx, limit, offset)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, item := range page.Data {
				if !yield(item, nil) {
					return
				}
			}
			if len(page.Data) == 0 || len(page.Data) < limit || page.Next == "" {
				return
			}
			offset += len(page.Data)
		}
		yield(zero, fmt.Errorf("airbyte: list did not end after %d pages", maxPages))
	}
}

// collect gathers an iteration into a slice, stopping at the first error.
func collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for item, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, item)
	}
	return out, nil
}
