package main

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Why a value could not be stored in a setting. The caller names the
// setting and the value (file key, CHATD_* variable or flag).
var (
	errNotInteger  = errors.New("not an integer")
	errNotUnsigned = errors.New("not a non-negative integer")
	errRange       = errors.New("out of range")
	errNotNumber   = errors.New("not a number")
	errNotBool     = errors.New("not a boolean (true or false)")
	errNotString   = errors.New("not a string")
	errNotList     = errors.New("not a list")
	// errNoUnit refuses "drain_timeout: 20": read as nanoseconds it would
	// pass validation and mean something else than the operator meant.
	errNoUnit = errors.New("a duration needs a unit (such as 20s, 500ms or 1m30s)")
)

var durationType = reflect.TypeFor[time.Duration]()

// setValue stores raw into the setting v. raw is what a YAML or TOML file
// holds (string, bool, integer, float, list, nil) or an environment
// variable's string. Conversions are strict: a number must be a number, a
// duration must carry its unit (0 excepted), and nil or an empty string
// means the zero value, that is the default. Every kind a Config field can
// have is handled here, so a new field needs no code in this command.
func setValue(v reflect.Value, raw any) error {
	if raw == nil || raw == "" {
		v.SetZero()
		return nil
	}
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		s, err := scalarString(raw)
		if err != nil {
			return err
		}
		return u.UnmarshalText([]byte(s))
	}
	if v.Type() == durationType {
		d, err := toDuration(raw)
		v.SetInt(int64(d))
		return err
	}
	switch v.Kind() {
	case reflect.String:
		s, err := scalarString(raw)
		v.SetString(s)
		return err
	case reflect.Bool:
		return setBool(v, raw)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return setInt(v, raw)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return setUint(v, raw)
	case reflect.Float32, reflect.Float64:
		return setFloat(v, raw)
	case reflect.Slice:
		return setSlice(v, raw)
	}
	return fmt.Errorf("setting of type %s cannot be configured", v.Type())
}

// scalarString is raw as a string setting: strings as they are, numbers
// as written (default_room: 1 is the room "1").
func scalarString(raw any) (string, error) {
	switch r := raw.(type) {
	case string:
		return r, nil
	case int, int64, uint64, float64:
		return fmt.Sprint(r), nil
	}
	return "", errNotString
}

func toDuration(raw any) (time.Duration, error) {
	s, ok := raw.(string)
	if !ok {
		if f, err := toFloat(raw); err == nil && f == 0 {
			return 0, nil
		}
		return 0, errNoUnit
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		if _, nerr := strconv.ParseFloat(strings.TrimSpace(s), 64); nerr == nil {
			return 0, errNoUnit
		}
		return 0, fmt.Errorf("not a duration (such as 20s, 500ms or 1m30s)")
	}
	return d, nil
}

func setBool(v reflect.Value, raw any) error {
	switch r := raw.(type) {
	case bool:
		v.SetBool(r)
		return nil
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(r))
		if err != nil {
			return errNotBool
		}
		v.SetBool(b)
		return nil
	}
	return errNotBool
}

func setInt(v reflect.Value, raw any) error {
	var n int64
	switch r := raw.(type) {
	case string:
		var err error
		if n, err = strconv.ParseInt(strings.TrimSpace(r), 10, 64); err != nil {
			return intError(err, errNotInteger)
		}
	default:
		f, err := toFloat(raw)
		if err != nil || f != math.Trunc(f) {
			return errNotInteger
		}
		if f >= math.MaxInt64 || f < math.MinInt64 {
			return errRange
		}
		n = int64(f)
		if i, ok := raw.(int64); ok {
			n = i // exact, where float64 would round
		}
	}
	if v.OverflowInt(n) {
		return errRange
	}
	v.SetInt(n)
	return nil
}

func setUint(v reflect.Value, raw any) error {
	var n uint64
	switch r := raw.(type) {
	case string:
		var err error
		if n, err = strconv.ParseUint(strings.TrimSpace(r), 10, 64); err != nil {
			return intError(err, errNotUnsigned)
		}
	case uint64:
		n = r
	default:
		f, err := toFloat(raw)
		if err != nil || f != math.Trunc(f) || f < 0 {
			return errNotUnsigned
		}
		if f >= math.MaxUint64 {
			return errRange
		}
		n = uint64(f)
	}
	if v.OverflowUint(n) {
		return errRange
	}
	v.SetUint(n)
	return nil
}

func intError(err, syntax error) error {
	if errors.Is(err, strconv.ErrRange) {
		return errRange
	}
	return syntax
}

func setFloat(v reflect.Value, raw any) error {
	f, err := toFloat(raw)
	if s, ok := raw.(string); ok {
		f, err = strconv.ParseFloat(strings.TrimSpace(s), 64)
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return errNotNumber
	}
	if v.OverflowFloat(f) {
		return errRange
	}
	v.SetFloat(f)
	return nil
}

// toFloat converts the numbers a YAML or TOML parser returns.
func toFloat(raw any) (float64, error) {
	switch r := raw.(type) {
	case int:
		return float64(r), nil
	case int64:
		return float64(r), nil
	case uint64:
		return float64(r), nil
	case float64:
		return r, nil
	}
	return 0, errNotNumber
}

// setSlice fills a list setting from a file's list or from one string of
// comma-separated items (the environment's and the flags' form).
func setSlice(v reflect.Value, raw any) error {
	var items []any
	switch r := raw.(type) {
	case []any:
		items = r
	case string:
		for _, p := range strings.Split(r, ",") {
			if p = strings.TrimSpace(p); p != "" {
				items = append(items, p)
			}
		}
	default:
		return errNotList
	}
	if len(items) == 0 {
		v.SetZero() // an empty list is the zero value, as everywhere
		return nil
	}
	s := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, it := range items {
		if err := setValue(s.Index(i), it); err != nil {
			return fmt.Errorf("item %d: %w", i+1, err)
		}
	}
	v.Set(s)
	return nil
}
