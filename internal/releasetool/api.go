package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

// The exported API of each public module is recorded in api/NAME.txt, one
// line per exported name, field and method, as the Go project records its
// own in api/go1.*.txt. The check fails when
//   - a line of the record is missing from the current API (a removal or an
//     incompatible change), or
//   - a line of the API at the module's latest release tag is missing (so
//     that -update cannot hide a removal), or
//   - the current API has lines the record lacks (an addition not recorded:
//     run scripts/api.sh -update and commit the result).
// An interface is one line with all its methods, so adding a method to it,
// which breaks its implementations, reads as a change.

func apiFile(root string, m publicModule) string {
	name := filepath.Base(m.path())
	return filepath.Join(root, "api", name+".txt")
}

func runAPI(update bool) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	var problems []string
	for _, m := range publicModules {
		lines, unexported, err := moduleAPI(filepath.Join(root, m.dir))
		if err != nil {
			return fmt.Errorf("module %s: %w", m.path(), err)
		}
		for _, u := range unexported {
			problems = append(problems, fmt.Sprintf("module %s: %s", m.path(), u))
		}
		file := apiFile(root, m)
		recorded, err := readLines(file)
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		removed, added := diff(recorded, lines)
		if released, tag := releasedAPI(root, m); tag != "" {
			for _, l := range minus(released, lines) {
				problems = append(problems, fmt.Sprintf("module %s: incompatible with %s: %s", m.path(), tag, l))
			}
		}
		if update {
			for _, l := range removed {
				fmt.Fprintf(os.Stderr, "module %s: removed or changed: %s\n", m.path(), l)
			}
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				return err
			}
			fmt.Printf("%s: %d lines (%d added, %d removed or changed)\n", file, len(lines), len(added), len(removed))
			continue
		}
		for _, l := range removed {
			problems = append(problems, fmt.Sprintf("module %s: removed or changed (an incompatible change; run scripts/api.sh -update only if it is intended before a major version): %s", m.path(), l))
		}
		for _, l := range added {
			problems = append(problems, fmt.Sprintf("module %s: not recorded (run scripts/api.sh -update and commit api/): %s", m.path(), l))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("API check:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// releasedAPI returns the recorded API at module m's latest release tag, and
// the tag; no tag yet, no record.
func releasedAPI(root string, m publicModule) ([]string, string) {
	out, err := git(root, "tag", "--list", "--sort=-v:refname", m.tagPrefix()+"v*")
	if err != nil {
		return nil, ""
	}
	for _, tag := range strings.Fields(string(out)) {
		if strings.Contains(strings.TrimPrefix(tag, m.tagPrefix()), "/") {
			continue // a sub-module's tag, matched by the root's pattern
		}
		rel, _ := filepath.Rel(root, apiFile(root, m))
		data, err := git(root, "show", tag+":"+filepath.ToSlash(rel))
		if err != nil {
			return nil, ""
		}
		return splitLines(string(data)), tag
	}
	return nil, ""
}

func readLines(file string) ([]string, error) {
	data, err := os.ReadFile(file)
	return splitLines(string(data)), err
}

func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// diff returns the lines of old missing from cur and those of cur missing
// from old.
func diff(old, cur []string) (removed, added []string) {
	return minus(old, cur), minus(cur, old)
}

func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, l := range b {
		in[l] = true
	}
	var out []string
	for _, l := range a {
		if !in[l] {
			out = append(out, l)
		}
	}
	return out
}

// moduleAPI lists the exported API of every importable package of the
// module in dir, and the places where godoc would show an unexported name.
func moduleAPI(dir string) (api, unexported []string, err error) {
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedTypes | packages.NeedSyntax | packages.NeedTypesInfo | packages.NeedFiles,
		Dir:  dir,
	}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		return nil, nil, err
	}
	for _, p := range pkgs {
		if len(p.Errors) > 0 {
			return nil, nil, fmt.Errorf("%s: %v", p.PkgPath, p.Errors[0])
		}
		if p.Name == "main" || isInternal(p.PkgPath) {
			continue
		}
		api = append(api, packageAPI(p.Types)...)
		unexported = append(unexported, unexportedInDocs(p)...)
		unexported = append(unexported, docAndExamples(p)...)
	}
	sort.Strings(api)
	return slices.Compact(api), unexported, nil
}

// docAndExamples reports a package without a package doc comment or
// without an Example function.
func docAndExamples(p *packages.Package) []string {
	var out []string
	if !slices.ContainsFunc(p.Syntax, func(f *ast.File) bool { return f.Doc != nil }) {
		out = append(out, p.PkgPath+": no package doc comment")
	}
	if len(p.GoFiles) == 0 {
		return out
	}
	tests, _ := filepath.Glob(filepath.Join(filepath.Dir(p.GoFiles[0]), "*_test.go"))
	fset := token.NewFileSet()
	for _, t := range tests {
		f, err := parser.ParseFile(fset, t, nil, parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Example") {
				return out
			}
		}
	}
	return append(out, p.PkgPath+": no runnable Example function")
}

func isInternal(path string) bool {
	for _, part := range strings.Split(path, "/") {
		if part == "internal" || part == "testdata" {
			return true
		}
	}
	return false
}

// packageAPI lists a package's exported names, one line each, with their
// types; a struct's exported fields and a type's exported methods (promoted
// ones included) get lines of their own.
func packageAPI(pkg *types.Package) []string {
	qual := func(other *types.Package) string {
		if other == pkg {
			return ""
		}
		return other.Path()
	}
	typ := func(t types.Type) string { return types.TypeString(t, qual) }
	prefix := "pkg " + pkg.Path() + ", "
	var out []string
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		switch obj := obj.(type) {
		case *types.Const:
			out = append(out, fmt.Sprintf("%sconst %s %s = %s", prefix, name, typ(obj.Type()), obj.Val().ExactString()))
		case *types.Var:
			out = append(out, fmt.Sprintf("%svar %s %s", prefix, name, typ(obj.Type())))
		case *types.Func:
			out = append(out, prefix+"func "+name+signature(obj.Type().(*types.Signature), typ))
		case *types.TypeName:
			out = append(out, typeAPI(prefix, obj, typ)...)
		}
	}
	return out
}

func typeAPI(prefix string, obj *types.TypeName, typ func(types.Type) string) []string {
	name := obj.Name()
	if obj.IsAlias() {
		return []string{fmt.Sprintf("%stype %s = %s", prefix, name, typ(obj.Type()))}
	}
	named := obj.Type().(*types.Named)
	if tp := named.TypeParams(); tp.Len() > 0 {
		var params []string
		for i := range tp.Len() {
			params = append(params, tp.At(i).Obj().Name()+" "+typ(tp.At(i).Constraint()))
		}
		name += "[" + strings.Join(params, ", ") + "]"
	}
	var out []string
	switch u := named.Underlying().(type) {
	case *types.Struct:
		out = append(out, fmt.Sprintf("%stype %s struct", prefix, name))
		for i := range u.NumFields() {
			f := u.Field(i)
			if !f.Exported() {
				continue
			}
			if f.Embedded() {
				out = append(out, fmt.Sprintf("%stype %s struct, embedded %s", prefix, name, typ(f.Type())))
			} else {
				out = append(out, fmt.Sprintf("%stype %s struct, %s %s", prefix, name, f.Name(), typ(f.Type())))
			}
		}
	case *types.Interface:
		var methods []string
		for i := range u.NumMethods() {
			m := u.Method(i)
			methods = append(methods, m.Name()+signature(m.Type().(*types.Signature), typ))
		}
		for i := range u.NumEmbeddeds() {
			if _, isIface := u.EmbeddedType(i).Underlying().(*types.Interface); !isIface {
				methods = append(methods, typ(u.EmbeddedType(i))) // a constraint's terms
			}
		}
		sort.Strings(methods)
		out = append(out, fmt.Sprintf("%stype %s interface { %s }", prefix, name, strings.Join(methods, "; ")))
		return out // its methods are on the line
	default:
		out = append(out, fmt.Sprintf("%stype %s %s", prefix, name, typ(u)))
	}
	// Methods of T and *T, promoted ones included.
	seen := map[string]bool{}
	for _, recv := range []types.Type{named, types.NewPointer(named)} {
		ms := types.NewMethodSet(recv)
		for i := range ms.Len() {
			m := ms.At(i).Obj()
			if !m.Exported() || seen[m.Name()] {
				continue
			}
			seen[m.Name()] = true
			r := name
			if _, ptr := recv.(*types.Pointer); ptr {
				r = "*" + name
			}
			out = append(out, fmt.Sprintf("%smethod (%s) %s%s", prefix, r, m.Name(), signature(m.Type().(*types.Signature), typ)))
		}
	}
	return out
}

// signature renders a function's type parameters, parameter types and
// result types, without the names: renaming a parameter changes nobody's
// program.
func signature(sig *types.Signature, typ func(types.Type) string) string {
	var b strings.Builder
	if tp := sig.TypeParams(); tp.Len() > 0 {
		var params []string
		for i := range tp.Len() {
			params = append(params, tp.At(i).Obj().Name()+" "+typ(tp.At(i).Constraint()))
		}
		b.WriteString("[" + strings.Join(params, ", ") + "]")
	}
	tuple := func(t *types.Tuple, variadic bool) string {
		var parts []string
		for i := range t.Len() {
			s := typ(t.At(i).Type())
			if variadic && i == t.Len()-1 {
				s = "..." + typ(t.At(i).Type().(*types.Slice).Elem())
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ", ")
	}
	b.WriteString("(" + tuple(sig.Params(), sig.Variadic()) + ")")
	switch r := sig.Results(); r.Len() {
	case 0:
	case 1:
		b.WriteString(" " + tuple(r, false))
	default:
		b.WriteString(" (" + tuple(r, false) + ")")
	}
	return b.String()
}

// identLike matches words that can only be Go identifiers, not English:
// with an upper-case letter or a digit after the first letter
// (defaultMaxCookieSize, numRefusals).
var identLike = regexp.MustCompile(`\b[a-z][a-zA-Z]*[A-Z0-9][a-zA-Z0-9]*\b`)

// unexportedInDocs finds what godoc would show of the package's unexported
// names: in the types, array lengths and values of exported declarations,
// in the signatures of exported functions and methods, and in the doc
// comments of exported names, fields and methods.
func unexportedInDocs(p *packages.Package) []string {
	scope := p.Types.Scope()
	hidden := func(id *ast.Ident) bool {
		obj := p.TypesInfo.Uses[id]
		return obj != nil && !obj.Exported() && obj.Pkg() == p.Types && obj.Parent() == scope
	}
	var out []string
	report := func(where, what string) {
		out = append(out, fmt.Sprintf("%s: godoc would show the unexported %s", where, what))
	}
	inExpr := func(where string, e ast.Node) {
		if e == nil {
			return
		}
		ast.Inspect(e, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.StructType:
				for _, f := range n.Fields.List {
					if exportedField(f) {
						ast.Inspect(f.Type, func(n ast.Node) bool {
							if id, ok := n.(*ast.Ident); ok && hidden(id) {
								report(where+"."+fieldName(f), id.Name)
							}
							return true
						})
					}
				}
				return false
			case *ast.Ident:
				if hidden(n) {
					report(where, n.Name)
				}
			}
			return true
		})
	}
	inDoc := func(where string, groups ...*ast.CommentGroup) {
		for _, g := range groups {
			if g == nil {
				continue
			}
			for _, w := range identLike.FindAllString(g.Text(), -1) {
				if obj := scope.Lookup(w); obj != nil && !obj.Exported() {
					report(where+" (doc)", w)
				}
			}
		}
	}
	for _, file := range p.Syntax {
		inDoc("package "+p.Name, file.Doc)
		for _, decl := range file.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() || (d.Recv != nil && !exportedRecv(d.Recv)) {
					continue
				}
				inExpr(d.Name.Name, d.Type)
				inDoc(d.Name.Name, d.Doc)
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						inExpr(s.Name.Name, s.Type)
						inDoc(s.Name.Name, d.Doc, s.Doc)
						if st, ok := s.Type.(*ast.StructType); ok {
							for _, f := range st.Fields.List {
								if exportedField(f) {
									inDoc(s.Name.Name+"."+fieldName(f), f.Doc, f.Comment)
								}
							}
						}
						if it, ok := s.Type.(*ast.InterfaceType); ok {
							for _, f := range it.Methods.List {
								inDoc(s.Name.Name+"."+fieldName(f), f.Doc, f.Comment)
							}
						}
					case *ast.ValueSpec:
						if !slices.ContainsFunc(s.Names, func(id *ast.Ident) bool { return id.IsExported() }) {
							continue
						}
						inExpr(s.Names[0].Name, s.Type)
						for _, v := range s.Values {
							inExpr(s.Names[0].Name, v)
						}
						inDoc(s.Names[0].Name, d.Doc, s.Doc, s.Comment)
					}
				}
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func exportedField(f *ast.Field) bool {
	if len(f.Names) == 0 { // embedded: exported when its type name is
		t := f.Type
		if star, ok := t.(*ast.StarExpr); ok {
			t = star.X
		}
		switch t := t.(type) {
		case *ast.Ident:
			return t.IsExported()
		case *ast.SelectorExpr:
			return t.Sel.IsExported()
		}
		return false
	}
	return slices.ContainsFunc(f.Names, func(id *ast.Ident) bool { return id.IsExported() })
}

func fieldName(f *ast.Field) string {
	if len(f.Names) > 0 {
		return f.Names[0].Name
	}
	var b bytes.Buffer
	ast.Fprint(&b, nil, f.Type, nil)
	return strings.Fields(b.String())[0]
}

func exportedRecv(recv *ast.FieldList) bool {
	t := recv.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
		case *ast.IndexExpr:
			t = x.X
		case *ast.IndexListExpr:
			t = x.X
		case *ast.Ident:
			return x.IsExported()
		default:
			return false
		}
	}
}
