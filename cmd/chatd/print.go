package main

import (
	"encoding"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// printHeader opens the -print-config output.
const printHeader = `chatd -print-config: the configuration in effect, every default filled in.
It loads back with chatd -config FILE. Secrets are never printed: give them
with their CHATD_* variable.`

// printConfig writes c, normalized, as the YAML config file that sets
// exactly c: keys in declaration order, nested structs as mappings,
// durations with their unit, and every secret (a key containing "secret"
// or "password") as unset with a comment naming its variable.
func printConfig(w io.Writer, c *fileConfig) error {
	root := &yaml.Node{Kind: yaml.MappingNode}
	stack := []*yaml.Node{root}
	add := func(name string, val *yaml.Node) {
		top := stack[len(stack)-1]
		top.Content = append(top.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, val)
	}
	var err error
	leaf := func(key string, v reflect.Value) {
		val, verr := valueNode(key, v)
		if verr != nil && err == nil {
			err = verr
		}
		add(key[strings.LastIndex(key, ".")+1:], val)
	}
	begin := func(name string) {
		sub := &yaml.Node{Kind: yaml.MappingNode}
		add(name, sub)
		stack = append(stack, sub)
	}
	end := func() { stack = stack[:len(stack)-1] }
	walkNested(reflect.ValueOf(c).Elem(), "", leaf, begin, end)
	if err != nil {
		return err
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: printHeader, Content: []*yaml.Node{root}}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	return enc.Close()
}

// valueNode is the YAML of one setting, written so that setValue reads it
// back to the same value.
func valueNode(key string, v reflect.Value) (*yaml.Node, error) {
	n := &yaml.Node{}
	if isSecret(key) {
		set := !v.IsZero()
		if err := n.Encode(reflect.Zero(v.Type()).Interface()); err != nil {
			return nil, err
		}
		n.LineComment = "not printed: unset here"
		if set {
			n.LineComment = fmt.Sprintf("set, not printed: give it with %s", envName(key))
		}
		return n, nil
	}
	if err := n.Encode(printable(v)); err != nil {
		return nil, fmt.Errorf("print %s: %w", key, err)
	}
	if n.Kind == yaml.SequenceNode {
		n.Style = yaml.FlowStyle
	}
	return n, nil
}

// printable is v as a plain value: durations and text values as strings.
func printable(v reflect.Value) any {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		b, _ := m.MarshalText()
		return string(b)
	}
	if v.Kind() == reflect.Slice {
		out := make([]any, v.Len())
		for i := range out {
			out[i] = printable(v.Index(i))
		}
		return out
	}
	return v.Interface()
}

// isSecret reports whether the setting key holds a secret.
func isSecret(key string) bool {
	return strings.Contains(key, "secret") || strings.Contains(key, "password")
}
