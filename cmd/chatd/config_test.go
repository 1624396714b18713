package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const yamlConfig = `
max_conns: 10
message_rate: 5
message_burst: 10
ping_interval: 7s
allowed_origins: ["https://a.example", "https://b.example"]
`

const tomlConfig = `
max_conns = 10
message_rate = 5.0
message_burst = 10
ping_interval = "7s"
allowed_origins = ["https://a.example", "https://b.example"]
`

// TestConfigPrecedence: defaults < file < CHATD_* environment < flags.
func TestConfigPrecedence(t *testing.T) {
	for _, file := range []struct{ name, body string }{{"c.yaml", yamlConfig}, {"c.toml", tomlConfig}} {
		path := writeFile(t, file.name, file.body)
		cases := []struct {
			name      string
			args, env []string
			conns     int
			rate      float64
			ping      time.Duration
			origins   int
		}{
			{"defaults", nil, nil, 0, 0, 0, 0},
			{"file", []string{"-config", path}, nil, 10, 5, 7 * time.Second, 2},
			{"file from env", nil, []string{"CHATD_CONFIG=" + path}, 10, 5, 7 * time.Second, 2},
			{"env over file", []string{"-config", path}, []string{"CHATD_MAX_CONNS=20", "CHATD_PING_INTERVAL=9s", "CHATD_ALLOWED_ORIGINS=https://c.example"}, 20, 5, 9 * time.Second, 1},
			{"flag over env", []string{"-config", path, "-max-conns", "30", "-ping-interval", "11s"}, []string{"CHATD_MAX_CONNS=20", "CHATD_PING_INTERVAL=9s"}, 30, 5, 11 * time.Second, 2},
			{"flag over file", []string{"-config", path, "-message-rate", "8"}, nil, 10, 8, 7 * time.Second, 2},
		}
		for _, tc := range cases {
			t.Run(file.name+"/"+tc.name, func(t *testing.T) {
				fs := flag.NewFlagSet("chatd", flag.ContinueOnError)
				c, _, err := loadConfig(fs, tc.args, tc.env)
				if err != nil {
					t.Fatalf("loadConfig: %v", err)
				}
				s := c.Server
				if s.MaxConns != tc.conns || s.MessageRate != tc.rate || s.PingInterval != tc.ping || len(s.AllowedOrigins) != tc.origins {
					t.Fatalf("loadConfig(%q, %q) = max_conns %d, message_rate %v, ping_interval %v, origins %q; want %d, %v, %v, %d origins",
						tc.args, tc.env, s.MaxConns, s.MessageRate, s.PingInterval, s.AllowedOrigins, tc.conns, tc.rate, tc.ping, tc.origins)
				}
			})
		}
	}
}

func runChatd(args, env []string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, env, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckConfig(t *testing.T) {
	good := writeFile(t, "good.yaml", yamlConfig)
	cases := []struct {
		name      string
		args, env []string
		code      int
		want      string
	}{
		{"defaults", []string{"-check-config"}, nil, 0, "valid"},
		{"good file", []string{"-check-config", "-config", good}, nil, 0, "valid"},
		{"unknown key", []string{"-check-config", "-config", writeFile(t, "k.yaml", "max_conn: 3\n")}, nil, 2, "unknown keys max_conn"},
		{"unknown env", []string{"-check-config"}, []string{"CHATD_MAX_CONN=3"}, 2, "CHATD_MAX_CONN"},
		{"bad value", []string{"-check-config"}, []string{"CHATD_MAX_CONNS=lots"}, 2, `CHATD_MAX_CONNS="lots": not an integer`},
		{"invalid", []string{"-check-config", "-message-rate", "100", "-message-burst", "10"}, nil, 2, "message burst"},
		{"bad listen", []string{"-check-config", "-listen", "nope"}, nil, 2, "listen"},
		{"bad proxy", []string{"-check-config", "-trusted-proxies", "10.0.0.0/33"}, nil, 2, "trusted proxy"},
		{"bad extension", []string{"-check-config", "-config", writeFile(t, "c.json", "{}")}, nil, 2, ".yaml"},
		{"missing file", []string{"-check-config", "-config", "/nonexistent/chatd.yaml"}, nil, 2, "nonexistent"},
		{"bad log format", []string{"-check-config", "-log-format", "xml"}, nil, 2, "log format"},
		{"bad flag", []string{"-no-such-flag"}, nil, 2, "no-such-flag"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runChatd(tc.args, tc.env)
			if code != tc.code || !strings.Contains(out+errs, tc.want) {
				t.Fatalf("chatd %q = %d, %q %q; want %d and %q", tc.args, code, out, errs, tc.code, tc.want)
			}
		})
	}
}

// TestPrintConfig: -print-config prints the configuration in effect
// (defaults filled in), secrets as unset with a comment, and its output
// loads back: print -> load -> print is a fixed point that -check-config
// accepts.
func TestPrintConfig(t *testing.T) {
	const secret = "0123456789abcdef0123"
	file := writeFile(t, "c.yaml", "max_conns: 10\nallowed_origins: [\"https://a.example\"]\ncluster:\n  node_ttl: 9s\n")
	args := []string{"-print-config", "-config", file, "-max-conns-per-ip", "7", "-jwt-secret", secret, "-drain-timeout", "1m30s"}
	code, first, errs := runChatd(args, []string{"CHATD_MESSAGE_RATE=8"})
	if code != 0 {
		t.Fatalf("print-config: %d %s", code, errs)
	}
	for _, want := range []string{
		"max_conns: 10\n", "max_conns_per_ip: 7\n", "message_rate: 8\n", "ping_interval: 25s\n",
		"drain_timeout: 1m30s\n", "admin_listen: 127.0.0.1:9191\n", "log_format: auto\n", "gc_percent: 50\n",
		"  heartbeat: 1s\n", "  node_ttl: 9s\n", "  reconnect_wait: 250ms\n", "allowed_origins: ['https://a.example']\n",
		`jwt_secret: "" # set, not printed: give it with CHATD_JWT_SECRET`,
	} {
		if !strings.Contains(first, want) {
			t.Errorf("print-config lacks %q:\n%s", want, first)
		}
	}
	if strings.Contains(first, secret) || strings.Contains(first, ": 0s\n") {
		t.Errorf("print-config shows the secret or a zero duration:\n%s", first)
	}
	printed := writeFile(t, "printed.yaml", first)
	env := []string{"CHATD_JWT_SECRET=" + secret}
	if code, _, errs := runChatd([]string{"-check-config", "-config", printed}, env); code != 0 {
		t.Fatalf("printed config does not load: %s", errs)
	}
	code, second, errs := runChatd([]string{"-print-config", "-config", printed}, env)
	if code != 0 || second != first {
		t.Fatalf("print -> load -> print is not a fixed point (%d %s):\n%s\n---\n%s", code, errs, first, second)
	}
	_, third, _ := runChatd([]string{"-print-config", "-config", printed}, nil)
	if !strings.Contains(third, `jwt_secret: "" # not printed: unset here`) {
		t.Errorf("unset secret not shown as unset:\n%s", third)
	}
}

// TestEverySettingLoads: each setting of the effective configuration, as
// -print-config writes it, loads back to the same value, so a field added
// to server.Config of a kind setValue cannot read fails here, not in
// production.
func TestEverySettingLoads(t *testing.T) {
	c := fileConfig{}
	c.Server.JWTSecret = "0123456789abcdef0123"
	if err := c.normalize(); err != nil {
		t.Fatal(err)
	}
	fields := fieldsOf(&c)
	for _, k := range sortedKeys(fields) {
		v := fields[k]
		var raw any
		b, err := yaml.Marshal(printable(v))
		if err == nil {
			err = yaml.Unmarshal(b, &raw)
		}
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		got := reflect.New(v.Type()).Elem()
		if err := setValue(got, raw); err != nil || !reflect.DeepEqual(got.Interface(), v.Interface()) {
			t.Errorf("setting %s printed as %q loads as %v, %v; want %v", k, b, got, err, v)
		}
	}
}

// TestUnitlessDuration: a duration without a unit is refused from every
// source with an error naming the key, the variable or the flag; "0"
// needs no unit.
func TestUnitlessDuration(t *testing.T) {
	cases := []struct {
		name      string
		args, env []string
		code      int
		want      string
	}{
		{"yaml", []string{"-config", writeFile(t, "a.yaml", "drain_timeout: 20\n")}, nil, 2, "drain_timeout: 20: a duration needs a unit"},
		{"yaml string", []string{"-config", writeFile(t, "b.yaml", "drain_timeout: \"20\"\n")}, nil, 2, `drain_timeout: "20": a duration needs a unit`},
		{"yaml float", []string{"-config", writeFile(t, "c.yaml", "ping_interval: 2.5\n")}, nil, 2, "ping_interval: 2.5: a duration needs a unit"},
		{"yaml nested", []string{"-config", writeFile(t, "d.yaml", "cluster:\n  heartbeat: 1\n")}, nil, 2, "cluster.heartbeat: 1: a duration needs a unit"},
		{"toml", []string{"-config", writeFile(t, "e.toml", "drain_timeout = 20\n")}, nil, 2, "drain_timeout: 20: a duration needs a unit"},
		{"env", nil, []string{"CHATD_DRAIN_TIMEOUT=20"}, 2, `CHATD_DRAIN_TIMEOUT="20": a duration needs a unit`},
		{"env nested", nil, []string{"CHATD_CLUSTER_NODE_TTL=5"}, 2, `CHATD_CLUSTER_NODE_TTL="5": a duration needs a unit`},
		{"flag", []string{"-drain-timeout", "20"}, nil, 2, `invalid value "20" for flag -drain-timeout: a duration needs a unit`},
		{"not a duration", nil, []string{"CHATD_PING_INTERVAL=soon"}, 2, `CHATD_PING_INTERVAL="soon": not a duration`},
		{"zero", []string{"-config", writeFile(t, "f.yaml", "drain_timeout: 0\n"), "-close-timeout", "0"}, []string{"CHATD_PING_INTERVAL=0"}, 0, "valid"},
		{"units", []string{"-config", writeFile(t, "g.yaml", "drain_timeout: 20s\n"), "-close-timeout", "1s"}, []string{"CHATD_PING_INTERVAL=1m"}, 0, "valid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runChatd(append([]string{"-check-config"}, tc.args...), tc.env)
			if code != tc.code || !strings.Contains(out+errs, tc.want) {
				t.Fatalf("chatd %q %q = %d, %q %q; want %d and %q", tc.args, tc.env, code, out, errs, tc.code, tc.want)
			}
		})
	}
}

// TestErrorMessages: one "chatd:" prefix; the environment's errors name
// the variable and its value; a bad flag gets its error once and a
// one-line hint, not the usage; -h says first what chatd is.
func TestErrorMessages(t *testing.T) {
	cases := []struct {
		name      string
		args, env []string
		code      int
		stderr    string // exactly
	}{
		{"env int", nil, []string{"CHATD_MAX_MESSAGE=abc"}, 2, "chatd: bad configuration: CHATD_MAX_MESSAGE=\"abc\": not an integer\n"},
		{"env float", nil, []string{"CHATD_MESSAGE_RATE=fast"}, 2, "chatd: bad configuration: CHATD_MESSAGE_RATE=\"fast\": not a number\n"},
		{"env bool", nil, []string{"CHATD_ECHO=yes"}, 2, "chatd: bad configuration: CHATD_ECHO=\"yes\": not a boolean (true or false)\n"},
		{"env uint", nil, []string{"CHATD_CLUSTER_NODE_ID=-1"}, 2, "chatd: bad configuration: CHATD_CLUSTER_NODE_ID=\"-1\": not a non-negative integer\n"},
		{"env range", nil, []string{"CHATD_MAX_MESSAGE=99999999999999999999"}, 2, "chatd: bad configuration: CHATD_MAX_MESSAGE=\"99999999999999999999\": out of range\n"},
		{"bad log level", []string{"-log-level", "loud"}, nil, 2, "chatd: bad configuration: log level \"loud\"\n"},
		{"bad flag", []string{"-no-such-flag"}, nil, 2, "chatd: flag provided but not defined: -no-such-flag\nRun 'chatd -h' for the list of flags.\n"},
		{"bad flag value", []string{"-max-conns", "many"}, nil, 2, "chatd: invalid value \"many\" for flag -max-conns: parse error\nRun 'chatd -h' for the list of flags.\n"},
		{"argument", []string{"-echo", "extra"}, nil, 2, "chatd: unexpected argument \"extra\" (chatd takes only flags)\nRun 'chatd -h' for the list of flags.\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runChatd(append([]string{"-check-config"}, tc.args...), tc.env)
			if code != tc.code || errs != tc.stderr || out != "" {
				t.Fatalf("chatd %q %q = %d, stdout %q, stderr %q; want %d, stderr %q", tc.args, tc.env, code, out, errs, tc.code, tc.stderr)
			}
		})
	}
	code, _, errs := runChatd([]string{"-check-config", "-listen", "nope"}, nil)
	if code != 2 || strings.Count(errs, "chatd:") != 1 || !strings.HasPrefix(errs, "chatd: ") {
		t.Errorf("invalid listen: %d %q; want one chatd: prefix", code, errs)
	}
	code, out, errs := runChatd([]string{"-h"}, nil)
	first, _, _ := strings.Cut(out, "\n")
	for _, want := range []string{"WebSocket chat server", "config file", "CHATD_*", "environment < flags"} {
		if code != 0 || errs != "" || !strings.Contains(first, want) {
			t.Errorf("chatd -h = %d, first line %q, stderr %q; want 0 and %q in the first line", code, first, errs, want)
		}
	}
	if !strings.Contains(out, "  -drain-timeout duration\n") || !strings.Contains(out, "  -echo\n") {
		t.Errorf("chatd -h lacks flags:\n%s", out)
	}
}

func TestLogFormat(t *testing.T) {
	var buf bytes.Buffer
	for format, prefix := range map[string]string{"json": "{", "text": "time=", "auto": "{"} {
		buf.Reset()
		l, err := newLogger(&fileConfig{LogFormat: format}, &buf)
		if err != nil {
			t.Fatal(err)
		}
		l.Info("hello")
		if !strings.HasPrefix(buf.String(), prefix) {
			t.Errorf("format %s (not a terminal): %q; want it to start with %q", format, buf.String(), prefix)
		}
	}
	var _ io.Writer = &buf
}
