package main

import (
	"encoding"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/knadh/koanf/parsers/toml/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"

	"chatd/server"
)

// envPrefix starts every environment variable chatd reads.
const envPrefix = "CHATD_"

// errUsage reports a configuration that cannot be loaded. run prints it
// after "chatd: ", so it carries no prefix of its own.
var errUsage = errors.New("bad configuration")

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

// normalize fills in the defaults of c's zero fields, the server's
// included, and validates c: afterwards c is the configuration in effect.
func (c *fileConfig) normalize() error {
	setDefault(&c.LogLevel, "info")
	setDefault(&c.LogFormat, "auto")
	if c.GCPercent == 0 {
		c.GCPercent = 50
	}
	return c.Server.Normalize()
}

// flagError is a command line the flag package refused.
type flagError struct{ err error }

func (e flagError) Error() string { return e.err.Error() }
func (e flagError) Unwrap() error { return e.err }

// loadConfig fills the configuration from, in increasing precedence: the
// defaults (zero values, see server.Config), the config file (-config or
// CHATD_CONFIG), CHATD_* environment variables, and the flags given.
// Values are decoded strictly (setValue) and an error names the file and
// key, the variable or the flag, with the value refused.
func loadConfig(fs *flag.FlagSet, args, environ []string) (fileConfig, options, error) {
	var c fileConfig
	var o options
	defineFlags(fs, &c, &o)
	if err := fs.Parse(args); err != nil {
		return c, o, flagError{err}
	}
	if fs.NArg() > 0 {
		return c, o, flagError{fmt.Errorf("unexpected argument %q (chatd takes only flags)", fs.Arg(0))}
	}
	set := map[string]string{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = f.Value.String() })
	c = fileConfig{} // the flags' values are re-applied last
	fields := fieldsOf(&c)
	path := o.configFile
	if path == "" {
		path = lookupEnv(environ, envPrefix+"CONFIG")
	}
	if err := loadFile(path, fields); err != nil {
		return c, o, err
	}
	if err := loadEnv(environ, fields); err != nil {
		return c, o, err
	}
	for _, name := range sortedKeys(set) {
		if err := fs.Set(name, set[name]); err != nil {
			return c, o, flagError{fmt.Errorf("invalid value %q for flag -%s: %v", set[name], name, err)}
		}
	}
	return c, o, nil
}

// loadFile stores the settings of the config file at path (none if
// empty) into fields, refusing keys that name no setting (a typo must not
// pass silently).
func loadFile(path string, fields map[string]reflect.Value) error {
	if path == "" {
		return nil
	}
	p, err := parserFor(path)
	if err != nil {
		return err
	}
	ko := koanf.New(".")
	if err := ko.Load(file.Provider(path), p); err != nil {
		return fmt.Errorf("%w: %s: %v", errUsage, path, err)
	}
	values := ko.All()
	var unknown []string
	for _, k := range sortedKeys(values) {
		if _, ok := fields[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("%w: %s: unknown keys %s", errUsage, path, strings.Join(unknown, ", "))
	}
	for _, k := range sortedKeys(values) {
		if err := setValue(fields[k], values[k]); err != nil {
			return fmt.Errorf("%w: %s: %s: %s: %v", errUsage, path, k, quoteRaw(values[k]), err)
		}
	}
	return nil
}

// loadEnv stores the CHATD_* variables of environ into fields: key
// cluster.nats_url is CHATD_CLUSTER_NATS_URL.
func loadEnv(environ []string, fields map[string]reflect.Value) error {
	byVar := map[string]string{}
	for k := range fields {
		byVar[envName(k)] = k
	}
	vars := map[string]string{}
	var unknown []string
	for _, kv := range environ {
		name, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || name == envPrefix+"CONFIG" {
			continue
		}
		if _, ok := byVar[name]; !ok {
			unknown = append(unknown, name)
		}
		vars[name] = v
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("%w: unknown environment variables %s", errUsage, strings.Join(unknown, ", "))
	}
	for _, name := range sortedKeys(vars) {
		if err := setValue(fields[byVar[name]], vars[name]); err != nil {
			return fmt.Errorf("%w: %s=%q: %v", errUsage, name, vars[name], err)
		}
	}
	return nil
}

// envName is the environment variable of a key.
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func quoteRaw(raw any) string {
	if s, ok := raw.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(raw)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
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

// fieldsOf returns every setting of c by key, walking nested structs
// (such as cluster) generically through their koanf tags: a field added
// to server.Config is loaded, checked and printed with no code here.
func fieldsOf(c *fileConfig) map[string]reflect.Value {
	fields := map[string]reflect.Value{}
	walkConfig(reflect.ValueOf(c).Elem(), "", func(k string, v reflect.Value) { fields[k] = v })
	return fields
}

// walkConfig calls leaf, in declaration order, for every setting of the
// struct v, named as koanf names it: the koanf tag, else the lower-cased
// field name. begin and end, if not nil, bracket each nested struct.
func walkConfig(v reflect.Value, prefix string, leaf func(key string, v reflect.Value)) {
	walkNested(v, prefix, leaf, nil, nil)
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

func walkNested(v reflect.Value, prefix string, leaf func(string, reflect.Value), begin func(string), end func()) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opt, _ := strings.Cut(f.Tag.Get("koanf"), ",")
		switch {
		case !f.IsExported() || name == "-":
			continue
		case opt == "squash":
			walkNested(v.Field(i), prefix, leaf, begin, end)
			continue
		case name == "":
			name = strings.ToLower(f.Name)
		}
		switch f.Type.Kind() {
		case reflect.Struct:
			if reflect.PointerTo(f.Type).Implements(textUnmarshaler) {
				leaf(prefix+name, v.Field(i)) // a value written as one string
				continue
			}
			if begin != nil {
				begin(name)
			}
			walkNested(v.Field(i), prefix+name+".", leaf, begin, end)
			if end != nil {
				end()
			}
		case reflect.Func, reflect.Chan, reflect.Pointer, reflect.Interface, reflect.UnsafePointer:
		default:
			leaf(prefix+name, v.Field(i))
		}
	}
}

func setDefault(v *string, def string) {
	if *v == "" {
		*v = def
	}
}
