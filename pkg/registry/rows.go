package registry

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// list runs a query and scans each row with scan, the one scan function of
// the row type it selects. A query that returns no row gives a nil slice.
func list[T any](ctx context.Context, db DBTX, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err)
	}
	return collect(rows, scan)
}

// collect scans every row with scan and closes rows. Errors are translated
// like every other statement's.
func collect[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, translate(rows.Err())
}
