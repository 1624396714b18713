package main

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/toml/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"

	"chatd/server"
)

// envPrefix starts every environment variable chatd reads.
const envPrefix = "CHATD_"

// errUsage reports a configuration that cannot be loaded.
var errUsage = errors.New("chatd: bad configuration")

// fileConfig is everything a config file, the environment or the flags
// can set: the server's Config and the command's logging.
type fileConfig struct {
	Server    server.Config `koanf:",squash"`
	LogLevel  string        `koanf:"log_level"`  // debug, info, warn, error; zero means info
	LogFormat string        `koanf:"log_format"` // auto, text, json; zero means auto
	// GCPercent is the process's GC target (debug.SetGCPercent). Zero
	// means 50: chatd's heap is mostly long-lived connection state and its
	// garbage is a few hundred bytes per message, so collecting at +50%
	// instead of Go's +100% costs little CPU and keeps ~7% less RSS per
	// idle connection (1.20 -> 1.12 KiB at 15k, bench connect). Negative
	// means Go's default (GOGC or 100).
	GCPercent int `koanf:"gc_percent"`
}

// loadConfig fills the configuration from, in increasing precedence: the
// defaults (zero values, see server.Config), the config file (-config or
// CHATD_CONFIG), CHATD_* environment variables, and the flags given.
func loadConfig(fs *flag.FlagSet, args, environ []string) (fileConfig, options, error) {
	var c fileConfig
	var o options
	defineFlags(fs, &c, &o)
	if err := fs.Parse(args); err != nil {
		return c, o, err
	}
	set := map[string]string{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = f.Value.String() })
	c = fileConfig{} // the flags' values are re-applied last
	ko, err := loadSources(o.configFile, environ, keysOf(&c))
	if err != nil {
		return c, o, err
	}
	if err := ko.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		return c, o, fmt.Errorf("%w: %v", errUsage, err)
	}
	for name, v := range set {
		if err := fs.Set(name, v); err != nil {
			return c, o, fmt.Errorf("%w: -%s: %v", errUsage, name, err)
		}
	}
	return c, o, nil
}

// loadSources reads the config file and the environment into one koanf,
// refusing keys that name no setting (a typo must not pass silently).
func loadSources(path string, environ []string, keys map[string]reflect.Kind) (*koanf.Koanf, error) {
	ko := koanf.New(".")
	if path == "" {
		path = lookupEnv(environ, envPrefix+"CONFIG")
	}
	if path != "" {
		p, err := parserFor(path)
		if err != nil {
			return nil, err
		}
		if err := ko.Load(file.Provider(path), p); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", errUsage, path, err)
		}
		if err := checkKeys(ko.Keys(), keys, path); err != nil {
			return nil, err
		}
	}
	var unknown []string
	envKeys := map[string]string{}
	for k := range keys {
		envKeys[strings.ReplaceAll(k, ".", "_")] = k
	}
	err := ko.Load(env.Provider(".", env.Opt{
		Prefix:      envPrefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, v string) (string, any) {
			flat := strings.ToLower(strings.TrimPrefix(name, envPrefix))
			k, ok := envKeys[flat]
			switch {
			case flat == "config":
				return "", nil
			case !ok:
				unknown = append(unknown, name)
				return "", nil
			case keys[k] == reflect.Slice:
				var l stringList
				_ = l.Set(v)
				return k, []string(l)
			}
			return k, v
		},
	}), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: environment: %v", errUsage, err)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("%w: unknown environment variables %s", errUsage, strings.Join(unknown, ", "))
	}
	return ko, nil
}

func lookupEnv(environ []string, name string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

func parserFor(path string) (koanf.Parser, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return yaml.Parser(), nil
	case ".toml":
		return toml.Parser(), nil
	}
	return nil, fmt.Errorf("%w: %s: config file must end in .yaml, .yml or .toml", errUsage, path)
}

func checkKeys(got []string, keys map[string]reflect.Kind, source string) error {
	var unknown []string
	for _, k := range got {
		if _, ok := keys[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("%w: %s: unknown keys %s", errUsage, source, strings.Join(unknown, ", "))
	}
	return nil
}

// keysOf returns every settable key of c with its kind, walking nested
// structs (such as cluster) generically through their koanf tags.
func keysOf(c *fileConfig) map[string]reflect.Kind {
	keys := map[string]reflect.Kind{}
	walkConfig(reflect.ValueOf(c).Elem(), "", func(k string, v reflect.Value) { keys[k] = v.Kind() })
	return keys
}

// walkConfig calls leaf for every settable field of the struct v, named
// as koanf names it: the koanf tag, else the lower-cased field name.
func walkConfig(v reflect.Value, prefix string, leaf func(key string, v reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opt, _ := strings.Cut(f.Tag.Get("koanf"), ",")
		switch {
		case !f.IsExported() || name == "-":
			continue
		case opt == "squash":
			walkConfig(v.Field(i), prefix, leaf)
			continue
		case name == "":
			name = strings.ToLower(f.Name)
		}
		switch f.Type.Kind() {
		case reflect.Struct:
			walkConfig(v.Field(i), prefix+name+".", leaf)
		case reflect.Func, reflect.Chan, reflect.Pointer, reflect.Interface, reflect.UnsafePointer:
		default:
			leaf(prefix+name, v.Field(i))
		}
	}
}

// configMap returns c as nested maps keyed as in a config file, durations
// as strings and secrets redacted: what -print-config shows.
func configMap(c *fileConfig) map[string]any {
	out := map[string]any{}
	walkConfig(reflect.ValueOf(c).Elem(), "", func(k string, v reflect.Value) {
		val := v.Interface()
		if d, ok := val.(time.Duration); ok {
			val = d.String()
		}
		if strings.Contains(k, "secret") || strings.Contains(k, "password") {
			if v.Kind() == reflect.String && v.Len() > 0 {
				val = "<redacted>"
			}
		}
		m := out
		parts := strings.Split(k, ".")
		for _, p := range parts[:len(parts)-1] {
			sub, _ := m[p].(map[string]any)
			if sub == nil {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = val
	})
	return out
}
