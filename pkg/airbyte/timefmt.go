package airbyte

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// EpochSeconds is a timestamp in seconds since the Unix epoch, as Airbyte
// sends createdAt of sources, connections and config-API jobs.
type EpochSeconds int64

// Time returns the timestamp in UTC; the zero value gives the zero time.
func (e EpochSeconds) Time() time.Time {
	if e == 0 {
		return time.Time{}
	}
	return time.Unix(int64(e), 0).UTC()
}

// EpochMillis is a timestamp in milliseconds since the Unix epoch, as
// Airbyte sends FailureReason.timestamp.
type EpochMillis int64

// Time returns the timestamp in UTC; the zero value gives the zero time.
func (e EpochMillis) Time() time.Time {
	if e == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(e)).UTC()
}

// ISOTime is an ISO-8601 timestamp string as the public job response sends
// it (Java's OffsetDateTime.toString: "2025-09-16T20:13:24Z", and without
// seconds when they are zero: "2025-09-16T20:13Z").
type ISOTime string

var isoTimeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02T15:04"}

// Time parses the timestamp; an empty value gives the zero time and no error.
func (s ISOTime) Time() (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range isoTimeLayouts {
		if t, err := time.Parse(layout, string(s)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("airbyte: invalid ISO-8601 time %q", string(s))
}

// ISODuration is an ISO-8601 duration string such as "PT8H6M12S" (Java's
// Duration.toString; also accepts days "P1DT2H" and negative parts).
type ISODuration string

// Duration parses the duration; an empty value gives 0 and no error.
func (s ISODuration) Duration() (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	bad := func() (time.Duration, error) {
		return 0, fmt.Errorf("airbyte: invalid ISO-8601 duration %q", string(s))
	}
	str := string(s)
	neg := false
	if strings.HasPrefix(str, "-") {
		neg, str = true, str[1:]
	}
	rest, ok := strings.CutPrefix(strings.ToUpper(str), "P")
	if !ok || rest == "" {
		return bad()
	}
	var total float64
	inTime := false
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return bad()
			}
			inTime, rest = true, rest[1:]
			continue
		}
		i := 0
		for i < len(rest) && (rest[i] == '-' || rest[i] == '+' || rest[i] == '.' || rest[i] == ',' || (rest[i] >= '0' && rest[i] <= '9')) {
			i++
		}
		if i == 0 || i == len(rest) {
			return bad()
		}
		n, err := strconv.ParseFloat(strings.ReplaceAll(rest[:i], ",", "."), 64)
		if err != nil {
			return bad()
		}
		var unit float64
		switch u := rest[i]; {
		case !inTime && u == 'W':
			unit = float64(7 * 24 * time.Hour)
		case !inTime && u == 'D':
			unit = float64(24 * time.Hour)
		case inTime && u == 'H':
			unit = float64(time.Hour)
		case inTime && u == 'M':
			unit = float64(time.Minute)
		case inTime && u == 'S':
			unit = float64(time.Second)
		default:
			return bad() // years and months have no fixed length
		}
		total += n * unit
		rest = rest[i+1:]
	}
	if neg {
		total = -total
	}
	return time.Duration(total), nil
}
