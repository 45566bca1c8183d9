package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// FillZero gives every zero field of *dst, in nested structs too, the value
// of the same field in defaults. A config's SetDefaults is one call:
//
//	func (c *Config) SetDefaults() {
//		config.FillZero(c, Config{Concurrency: DefaultConcurrency, Timeout: DefaultTimeout})
//	}
func FillZero[T any](dst *T, defaults T) {
	fillZero(reflect.ValueOf(dst).Elem(), reflect.ValueOf(defaults))
}

func fillZero(dst, def reflect.Value) {
	if dst.Kind() == reflect.Struct {
		for i := range dst.NumField() {
			if dst.Type().Field(i).IsExported() {
				fillZero(dst.Field(i), def.Field(i))
			}
		}
		return
	}
	if dst.IsZero() {
		dst.Set(def)
	}
}

// NonNegative reports, by variable name, every field of cfg (a struct; its
// nested blocks aside) that holds a number or a duration below zero: "KEY:
// -1 is negative". A config whose settings are counts and durations calls it
// from its Validate.
func NonNegative(cfg any) error {
	v := reflect.ValueOf(cfg)
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	var errs []error
	for i := range v.NumField() {
		f, sf := v.Field(i), v.Type().Field(i)
		key, _, _ := strings.Cut(sf.Tag.Get("env"), ",")
		if key == "" || key == "-" || !sf.IsExported() {
			continue
		}
		negative := false
		switch f.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			negative = f.Int() < 0
		case reflect.Float32, reflect.Float64:
			negative = f.Float() < 0
		}
		if negative {
			errs = append(errs, fmt.Errorf("%s: %v is negative", key, f.Interface()))
		}
	}
	return errors.Join(errs...)
}
