package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// This file checks the golden JSON documents against schema.json with a
// small validator for the part of JSON Schema 2020-12 that schema.json uses.
// The validator refuses any keyword it does not implement, so the schema
// cannot come to rely on a keyword that is silently ignored here.

// validator checks instances against one schema document.
type validator struct {
	root map[string]any
}

// annotations are keywords that do not constrain an instance.
var annotations = map[string]bool{
	"$schema": true, "$id": true, "$defs": true, "$comment": true,
	"title": true, "description": true,
}

// validate returns the ways in which inst fails schema s, with JSON pointer
// paths, or nil.
func (v *validator) validate(s any, inst any, path string) []string {
	switch s := s.(type) {
	case bool:
		if !s {
			return []string{path + ": schema false"}
		}
		return nil
	case map[string]any:
		var errs []string
		fail := func(format string, args ...any) {
			errs = append(errs, path+": "+fmt.Sprintf(format, args...))
		}
		for _, k := range slices.Sorted(maps.Keys(s)) {
			kw := s[k]
			switch k {
			case "$ref":
				ref, _ := kw.(string)
				name, ok := strings.CutPrefix(ref, "#/$defs/")
				defs, _ := v.root["$defs"].(map[string]any)
				def, found := defs[name]
				if !ok || !found {
					fail("unresolvable $ref %q", ref)
					continue
				}
				errs = append(errs, v.validate(def, inst, path)...)
			case "type":
				var types []string
				switch t := kw.(type) {
				case string:
					types = []string{t}
				case []any:
					for _, x := range t {
						types = append(types, x.(string))
					}
				}
				if !slices.ContainsFunc(types, func(t string) bool { return hasType(inst, t) }) {
					fail("%s is not of type %v", describe(inst), types)
				}
			case "enum":
				if !slices.ContainsFunc(kw.([]any), func(e any) bool { return jsonEqual(e, inst) }) {
					fail("%s is not one of %v", describe(inst), kw)
				}
			case "const":
				if !jsonEqual(kw, inst) {
					fail("%s is not %v", describe(inst), kw)
				}
			case "minimum":
				if n, ok := inst.(json.Number); ok && rat(n).Cmp(rat(kw.(json.Number))) < 0 {
					fail("%s is less than %s", n, kw)
				}
			case "format":
				if kw != "date-time" {
					fail("validator does not implement format %q", kw)
				} else if str, ok := inst.(string); ok {
					if _, err := time.Parse(time.RFC3339, str); err != nil {
						fail("%q is not an RFC 3339 date-time", str)
					}
				}
			case "required":
				if obj, ok := inst.(map[string]any); ok {
					for _, name := range kw.([]any) {
						if _, ok := obj[name.(string)]; !ok {
							fail("required property %q missing", name)
						}
					}
				}
			case "properties":
				if obj, ok := inst.(map[string]any); ok {
					props := kw.(map[string]any)
					for _, name := range slices.Sorted(maps.Keys(props)) {
						if val, ok := obj[name]; ok {
							errs = append(errs, v.validate(props[name], val, path+"/"+name)...)
						}
					}
				}
			case "additionalProperties":
				if obj, ok := inst.(map[string]any); ok {
					props, _ := s["properties"].(map[string]any)
					for _, name := range slices.Sorted(maps.Keys(obj)) {
						if _, declared := props[name]; !declared {
							errs = append(errs, v.validate(kw, obj[name], path+"/"+name)...)
						}
					}
				}
			case "items":
				if arr, ok := inst.([]any); ok {
					for i, el := range arr {
						errs = append(errs, v.validate(kw, el, fmt.Sprintf("%s/%d", path, i))...)
					}
				}
			case "anyOf":
				var all []string
				matched := false
				for _, sub := range kw.([]any) {
					e := v.validate(sub, inst, path)
					if len(e) == 0 {
						matched = true
						break
					}
					all = append(all, e...)
				}
				if !matched {
					fail("no anyOf branch matches: %s", strings.Join(all, "; "))
				}
			default:
				if !annotations[k] {
					fail("validator does not implement keyword %q", k)
				}
			}
		}
		return errs
	default:
		return []string{fmt.Sprintf("%s: schema is %T, not an object or boolean", path, s)}
	}
}

func hasType(inst any, t string) bool {
	switch t {
	case "null":
		return inst == nil
	case "boolean":
		_, ok := inst.(bool)
		return ok
	case "string":
		_, ok := inst.(string)
		return ok
	case "object":
		_, ok := inst.(map[string]any)
		return ok
	case "array":
		_, ok := inst.([]any)
		return ok
	case "number":
		_, ok := inst.(json.Number)
		return ok
	case "integer":
		n, ok := inst.(json.Number)
		return ok && rat(n).IsInt()
	}
	panic("unknown JSON Schema type " + t)
}

func rat(n json.Number) *big.Rat {
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		panic("bad number " + string(n))
	}
	return r
}

func jsonEqual(a, b any) bool {
	an, aok := a.(json.Number)
	bn, bok := b.(json.Number)
	if aok && bok {
		return rat(an).Cmp(rat(bn)) == 0
	}
	return reflect.DeepEqual(a, b)
}

func describe(inst any) string {
	b, _ := json.Marshal(inst)
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// decode parses JSON keeping numbers exact.
func decode(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func newValidator(t *testing.T) *validator {
	t.Helper()
	root, ok := decode(t, SchemaJSON()).(map[string]any)
	if !ok {
		t.Fatal("schema.json is not an object")
	}
	return &validator{root: root}
}

func TestGoldenJSONMatchesSchema(t *testing.T) {
	v := newValidator(t)
	files, err := filepath.Glob(filepath.Join("testdata", "*.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden JSON files")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range v.validate(v.root, decode(t, data), "") {
			t.Errorf("%s: %s", f, e)
		}
	}
}

// TestSchemaRejects makes sure the validator and the schema catch what they
// should: each edit of a valid document must fail, and each harmless one
// must pass.
func TestSchemaRejects(t *testing.T) {
	v := newValidator(t)
	var buf bytes.Buffer
	if err := WriteJSON(&buf, sourced(repairWritten)()); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	if errs := v.validate(v.root, decode(t, good), ""); len(errs) > 0 {
		t.Fatalf("valid document rejected: %v", errs)
	}
	set := func(doc any) map[string]any { return doc.(map[string]any)["sets"].([]any)[0].(map[string]any) }
	member := func(doc any) map[string]any { return set(doc)["members"].([]any)[0].(map[string]any) }
	tests := []struct {
		name  string
		edit  func(doc any)
		valid bool
	}{
		{"missing member state", func(d any) { delete(member(d), "state") }, false},
		{"missing top-level problems", func(d any) { delete(d.(map[string]any), "problems") }, false},
		{"missing set repair", func(d any) { delete(set(d), "repair") }, false},
		{"bad verdict", func(d any) { set(d)["verdict"] = "mostly-fine" }, false},
		{"bad state", func(d any) { member(d)["state"] = "Active" }, false},
		{"bad basis", func(d any) { set(d)["authority"].(map[string]any)["basis"] = "events" }, false},
		{"bad severity", func(d any) { set(d)["problems"].([]any)[0].(map[string]any)["severity"] = "fatal" }, false},
		{"bad repair status", func(d any) { set(d)["repair"].(map[string]any)["status"] = "done" }, false},
		{"schema version 2", func(d any) { d.(map[string]any)["schema"] = "mirrorchk.report/2" }, false},
		{"generation as string", func(d any) { member(d)["generation"] = "20" }, false},
		{"generation fractional", func(d any) { member(d)["generation"] = json.Number("20.5") }, false},
		{"negative offset", func(d any) { set(d)["problems"].([]any)[0].(map[string]any)["offset"] = json.Number("-1") }, false},
		{"null members", func(d any) { set(d)["members"] = nil }, false},
		{"null hashes", func(d any) { member(d)["hashes"] = nil }, false},
		{"hash not a string", func(d any) { member(d)["hashes"].(map[string]any)["sha256"] = json.Number("1") }, false},
		{"agree group not array", func(d any) {
			set(d)["divergence"].(map[string]any)["ranges"].([]any)[0].(map[string]any)["agree"] = []any{"m0.img"}
		}, false},
		{"bitmap missing field", func(d any) { set(d)["bitmap"] = map[string]any{"member": "m0.img"} }, false},
		{"repair output missing verified", func(d any) {
			delete(set(d)["repair"].(map[string]any)["outputs"].([]any)[0].(map[string]any), "verified")
		}, false},
		{"generated not a time", func(d any) { d.(map[string]any)["generated"] = "yesterday" }, false},

		{"unknown fields", func(d any) {
			d.(map[string]any)["future"] = []any{json.Number("1")}
			member(d)["serial"] = "WD-123"
		}, true},
		{"null bitmap", func(d any) { set(d)["bitmap"] = nil }, true},
		{"null generation", func(d any) { member(d)["generation"] = nil }, true},
		{"no segments", func(d any) { delete(member(d), "segments") }, true},
		{"generation above 2^53", func(d any) { member(d)["generation"] = json.Number("18446744073709551615") }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := decode(t, good)
			tt.edit(doc)
			errs := v.validate(v.root, doc, "")
			if tt.valid && len(errs) > 0 {
				t.Errorf("rejected: %v", errs)
			}
			if !tt.valid && len(errs) == 0 {
				t.Errorf("accepted")
			}
		})
	}
}

func TestValidatorRefusesUnknownKeywords(t *testing.T) {
	v := &validator{root: map[string]any{}}
	for _, s := range []string{
		`{"pattern": "^a$"}`,
		`{"type": "string", "maxLength": 3}`,
		`{"format": "uuid"}`,
		`{"$ref": "#/$defs/nowhere"}`,
	} {
		if errs := v.validate(decode(t, []byte(s)), "abc", ""); len(errs) == 0 {
			t.Errorf("schema %s accepted", s)
		}
	}
}

// TestSchemaMatchesModel checks that schema.json declares exactly the JSON
// fields of the Go model, and requires all but the omitempty ones.
func TestSchemaMatchesModel(t *testing.T) {
	v := newValidator(t)
	defs := v.root["$defs"].(map[string]any)
	types := map[string]reflect.Type{
		"":                 reflect.TypeFor[Report](),
		"tool":             reflect.TypeFor[Tool](),
		"set":              reflect.TypeFor[Set](),
		"member":           reflect.TypeFor[Member](),
		"authority":        reflect.TypeFor[Authority](),
		"divergence":       reflect.TypeFor[Divergence](),
		"range":            reflect.TypeFor[Range](),
		"bitmap":           reflect.TypeFor[Bitmap](),
		"problem":          reflect.TypeFor[Problem](),
		"repair":           reflect.TypeFor[Repair](),
		"repair_output":    reflect.TypeFor[RepairOutput](),
		"owner":            reflect.TypeFor[Owner](),
		"member_owner":     reflect.TypeFor[MemberOwner](),
		"file":             reflect.TypeFor[File](),
		"filesystem":       reflect.TypeFor[Filesystem](),
		"partition":        reflect.TypeFor[Partition](),
		"input":            reflect.TypeFor[Input](),
		"salvage":          reflect.TypeFor[Salvage](),
		"unreadable":       reflect.TypeFor[Unreadable](),
		"unreadable_range": reflect.TypeFor[UnreadableRange](),
		"extent":           reflect.TypeFor[Extent](),
		"container":        reflect.TypeFor[Container](),
		"provenance":       reflect.TypeFor[Provenance](),
		"inputs_summary":   reflect.TypeFor[InputsSummary](),
	}
	for name, typ := range types {
		s := v.root
		if name != "" {
			s = defs[name].(map[string]any)
		}
		var fields, required []string
		for f := range typ.Fields() {
			tag, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if tag == "-" {
				continue // not part of the JSON
			}
			fields = append(fields, tag)
			if !strings.Contains(opts, "omitempty") {
				required = append(required, tag)
			}
		}
		var props, req []string
		for k := range s["properties"].(map[string]any) {
			props = append(props, k)
		}
		for _, r := range s["required"].([]any) {
			req = append(req, r.(string))
		}
		slices.Sort(fields)
		slices.Sort(required)
		slices.Sort(props)
		slices.Sort(req)
		if !slices.Equal(props, fields) {
			t.Errorf("%s: schema properties %v, Go fields %v", typ.Name(), props, fields)
		}
		if !slices.Equal(req, required) {
			t.Errorf("%s: schema required %v, want %v", typ.Name(), req, required)
		}
		if s["additionalProperties"] != true {
			t.Errorf("%s: additionalProperties is %v, want true (version 1 may add fields)", typ.Name(), s["additionalProperties"])
		}
	}
}

// TestSchemaEnums checks the schema's enums against the model's constants.
func TestSchemaEnums(t *testing.T) {
	v := newValidator(t)
	defs := v.root["$defs"].(map[string]any)
	prop := func(def, name string) map[string]any {
		return defs[def].(map[string]any)["properties"].(map[string]any)[name].(map[string]any)
	}
	tests := []struct {
		where string
		enum  map[string]any
		want  []string
	}{
		{"set.verdict", prop("set", "verdict"),
			[]string{VerdictConsistent, VerdictDiverged, VerdictSplitBrain, VerdictDegraded, VerdictUnknown, VerdictUnpaired, VerdictUnreadable}},
		{"member.state", prop("member", "state"),
			[]string{StateActive, StateStale, StateFaulty, StateSpare, StateRebuilding, StateMissing, StateUnknown}},
		{"authority.basis", prop("authority", "basis"),
			[]string{BasisSetMetadata, BasisFilesystem, BasisUser, BasisNone}},
		{"problem.severity", prop("problem", "severity"),
			[]string{SeverityInfo, SeverityWarning, SeverityError}},
		{"repair.status", prop("repair", "status"),
			[]string{"not-needed", "planned", "repaired", "refused", "failed", "partial"}},
		{"salvage.basis", prop("salvage", "basis"),
			[]string{SalvageAuthority, SalvageBitmap, SalvageInSync, SalvageStructure, SalvageLost}},
		{"unreadable_range.cause", prop("unreadable_range", "cause"),
			[]string{CauseReadError, CauseDeclared}},
	}
	for _, tt := range tests {
		var got []string
		for _, e := range tt.enum["enum"].([]any) {
			got = append(got, e.(string))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s enum = %v, want %v", tt.where, got, tt.want)
		}
	}
}
