package config

import (
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// keyLines maps every key in the document to the line it is written on, so that validation
// errors (which go-toml cannot know about) still name the line. Keys are dotted; elements of
// arrays of tables, inline or [[bracketed]], are written key[i]: detector.rule[0].title.
func keyLines(doc []byte) (map[string]int, error) {
	lines := map[string]int{}
	arrays := map[string]int{} // next index per array-of-tables path
	var p unstable.Parser
	p.Reset(doc)
	prefix := ""
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			path, line := keyPath(&p, e, "")
			if e.Kind == unstable.ArrayTable {
				i := arrays[path]
				arrays[path] = i + 1
				path = fmt.Sprintf("%s[%d]", path, i)
			}
			prefix = path
			setLine(lines, path, line)
		case unstable.KeyValue:
			path, line := keyPath(&p, e, prefix)
			setLine(lines, path, line)
			valueLines(&p, lines, path, e.Value())
		}
	}
	if err := p.Error(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return lines, nil
}

func setLine(lines map[string]int, key string, line int) {
	if _, ok := lines[key]; !ok {
		lines[key] = line
	}
}

func keyPath(p *unstable.Parser, e *unstable.Node, prefix string) (string, int) {
	parts := []string{}
	if prefix != "" {
		parts = append(parts, prefix)
	}
	line := 0
	it := e.Key()
	for it.Next() {
		n := it.Node()
		if line == 0 {
			line = p.Shape(n.Raw).Start.Line
		}
		parts = append(parts, string(n.Data))
	}
	return strings.Join(parts, "."), line
}

// valueLines descends into inline tables and arrays of them.
func valueLines(p *unstable.Parser, lines map[string]int, path string, v *unstable.Node) {
	if v == nil {
		return
	}
	switch v.Kind {
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			kv := it.Node()
			if kv.Kind != unstable.KeyValue {
				continue
			}
			sub, line := keyPath(p, kv, path)
			setLine(lines, sub, line)
			valueLines(p, lines, sub, kv.Value())
		}
	case unstable.Array:
		i := 0
		it := v.Children()
		for it.Next() {
			el := it.Node()
			if el.Kind == unstable.InlineTable {
				sub := fmt.Sprintf("%s[%d]", path, i)
				if el.Raw.Length > 0 {
					setLine(lines, sub, p.Shape(el.Raw).Start.Line)
				} else if l, ok := lines[path]; ok {
					setLine(lines, sub, l)
				}
				valueLines(p, lines, sub, el)
			}
			i++
		}
	}
}
