package pool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// lintConfig reads a config document, JSON or YAML alike, into a node tree
// and holds it to the Config type before anything is decoded: exact-case
// known keys (with the nearest one suggested), no key twice, each value of
// the kind its field takes. It reports every such problem with its path, and
// returns the document without the entries at fault, as JSON, so that the
// rest is still decoded and validated and one mistake hides no other.
// A document that does not parse is one problem with its line and column.
func lintConfig(data []byte) (clean []byte, problems []string) {
	// A document that starts with { is JSON, held to JSON's grammar (YAML
	// would take a trailing comma, say).
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, []string{syntaxProblem(data, err)}
		}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, []string{syntaxProblem(data, err)}
	}
	if len(doc.Content) == 0 {
		return nil, []string{"the document is empty"}
	}
	if p := trailing(data, dec); p != "" {
		return nil, []string{p}
	}
	l := &linter{}
	v, ok := l.value(doc.Content[0], reflect.TypeOf(Config{}), "")
	if !ok {
		return nil, l.problems
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, append(l.problems, err.Error())
	}
	return out, l.problems
}

// syntaxProblem says where a document stops parsing, in the same words for
// JSON and YAML: "line L, column C: what". JSON's own decoder finds the
// offset of a JSON mistake; YAML's parser names the line.
func syntaxProblem(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(data, se.Offset-1) // the offending character
		return fmt.Sprintf("line %d, column %d: %s", line, col, strings.TrimPrefix(se.Error(), "invalid character "))
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			return fmt.Sprintf("line %s: %s", n, after)
		}
	}
	return msg
}

// trailing reports anything after the one document: a second JSON value, or
// a second YAML document.
func trailing(data []byte, dec *yaml.Decoder) string {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		jd := json.NewDecoder(bytes.NewReader(data))
		var v any
		if jd.Decode(&v) == nil && jd.More() {
			line, col := lineCol(data, jd.InputOffset())
			return fmt.Sprintf("line %d, column %d: unexpected data after the JSON object", line, col)
		}
		return ""
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		return fmt.Sprintf("line %d: a second YAML document; a config is one document", next.Line)
	}
	return ""
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

type linter struct{ problems []string }

func (l *linter) add(path, format string, args ...any) {
	l.problems = append(l.problems, path+": "+fmt.Sprintf(format, args...))
}

var durationType = reflect.TypeOf(Duration(0))

// value checks node against t and returns it as a plain Go value (maps,
// slices, scalars) for encoding/json; ok is false when the node is at fault
// and must be left out.
func (l *linter) value(n *yaml.Node, t reflect.Type, path string) (any, bool) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if t.Kind() == reflect.Pointer {
		if n.Tag == "!!null" {
			return nil, true
		}
		t = t.Elem()
	}
	where := path
	if where == "" {
		where = "the document"
	}
	switch {
	case t == durationType:
		if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
			f, err := strconv.ParseFloat(n.Value, 64)
			if err == nil && f >= 0 {
				return f, true
			}
			if err == nil {
				// A negative number is a duration, only out of range: say so
				// as "-30s" is told.
				l.add(where, "%s", negativeDuration)
				return nil, false
			}
		}
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
			if _, err := ParseDuration(n.Value); err == nil {
				return n.Value, true
			}
		}
		l.add(where, "want a duration: seconds (90) or a Go duration (\"90s\", \"5m\"), got %s", describe(n))
		return nil, false
	case t.Kind() == reflect.Struct:
		return l.object(n, t, path)
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			l.add(where, "want an object (a map of names), got %s", describe(n))
			return nil, false
		}
		out := map[string]any{}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			if line, dup := seen[k.Value]; dup {
				l.add(p, "duplicate key (first at line %d)", line)
				continue
			}
			seen[k.Value] = k.Line
			if x, ok := l.value(v, t.Elem(), p); ok {
				out[k.Value] = x
			}
		}
		return out, true
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			l.add(where, "want a list, got %s", describe(n))
			return nil, false
		}
		out := []any{}
		for i, c := range n.Content {
			if x, ok := l.value(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); ok {
				out = append(out, x)
			}
		}
		return out, true
	}
	if n.Kind != yaml.ScalarNode {
		l.add(where, "want %s, got %s", kindWord(t), describe(n))
		return nil, false
	}
	switch t.Kind() {
	case reflect.Int:
		if n.Tag == "!!str" && n.Value == "auto" && strings.HasSuffix(path, ".target_ready") {
			return "auto", true // PoolConfig.UnmarshalJSON reads it
		}
		if n.Tag == "!!int" {
			if v, err := strconv.Atoi(n.Value); err == nil {
				return v, true
			}
		}
	case reflect.Float64:
		if n.Tag == "!!float" || n.Tag == "!!int" {
			if v, err := strconv.ParseFloat(n.Value, 64); err == nil {
				return v, true
			}
		}
	case reflect.Bool:
		if n.Tag == "!!bool" {
			return n.Value == "true", true
		}
	case reflect.String:
		if n.Tag == "!!str" {
			return n.Value, true
		}
	}
	l.add(where, "want %s, got %s", kindWord(t), describe(n))
	return nil, false
}

// object checks a mapping against struct t's JSON field names.
func (l *linter) object(n *yaml.Node, t reflect.Type, path string) (any, bool) {
	where := path
	if where == "" {
		where = "the document"
	}
	if n.Kind != yaml.MappingNode {
		l.add(where, "want an object, got %s", describe(n))
		return nil, false
	}
	fields := map[string]reflect.Type{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	out := map[string]any{}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		ft, known := fields[k.Value]
		switch {
		case !known:
			if s := nearest(k.Value, names); s != "" {
				l.add(p, "unknown key (did you mean %s?)", s)
			} else {
				l.add(p, "unknown key (known here: %s)", strings.Join(names, ", "))
			}
			continue
		case seen[k.Value] > 0:
			l.add(p, "duplicate key (first at line %d)", seen[k.Value])
			continue
		}
		seen[k.Value] = k.Line
		if x, ok := l.value(v, ft, p); ok {
			out[k.Value] = x
		}
	}
	return out, true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	}
	return "a value"
}

// describe names what a node holds, in the user's terms.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "an object"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!str":
		return strconv.Quote(n.Value)
	case "!!null":
		return "null"
	}
	return n.Value
}

// nearest is the known name closest to key (case-insensitively equal, or at
// most a third of its letters apart), or "".
func nearest(key string, names []string) string {
	best, bestD := "", len(key)/3+1
	for _, n := range names {
		if strings.EqualFold(n, key) {
			return n
		}
		if d := editDistance(key, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is Levenshtein's distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
