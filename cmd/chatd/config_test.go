package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
		{"bad value", []string{"-check-config"}, []string{"CHATD_MAX_CONNS=lots"}, 2, "max_conns"},
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

// TestPrintConfig: the effective configuration, secrets redacted, and
// loadable again as a config file.
func TestPrintConfig(t *testing.T) {
	code, out, errs := runChatd([]string{"-print-config", "-max-conns-per-ip", "7", "-jwt-secret", "0123456789abcdef0123"}, nil)
	if code != 0 {
		t.Fatalf("print-config: %d %s", code, errs)
	}
	for _, want := range []string{"max_conns_per_ip: 7", "ping_interval: 25s", "admin_listen: 127.0.0.1:9191", "jwt_secret: <redacted>", "log_format: auto"} {
		if !strings.Contains(out, want) {
			t.Errorf("print-config lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "0123456789abcdef0123") {
		t.Errorf("print-config shows the secret")
	}
	path := writeFile(t, "printed.yaml", strings.Replace(out, "<redacted>", "another-secret-0123456", 1))
	if code, _, errs := runChatd([]string{"-check-config", "-config", path}, nil); code != 0 {
		t.Fatalf("printed config does not load: %s", errs)
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
