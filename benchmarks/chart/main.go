// Command chart draws the comparison of session implementations that
// BenchmarkCycle measures: time and wire bytes per request for each, from
// the output of `go test -bench Cycle` on standard input, as an SVG.
//
//	go test -run '^$' -bench Cycle -count 6 | go run ./chart -o cycle.svg
//
// Each figure is the median of the runs, as benchstat reports it.
package main

import (
	"bufio"
	"cmp"
	"flag"
	"fmt"
	"image/color"
	"io"
	"log"
	"os"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

func main() {
	out := flag.String("o", "cycle.svg", "the SVG file to write")
	size := flag.String("size", "typical", "the session size to draw: typical or large")
	flag.Parse()
	rows, err := parse(os.Stdin, *size)
	if err != nil {
		log.Fatal(err)
	}
	if len(rows) == 0 {
		log.Fatalf("no BenchmarkCycle results for size %q on standard input", *size)
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := render(f, rows); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

// row is one implementation's medians.
type row struct {
	name                    string
	microseconds, wireBytes float64
}

// parse reads benchmark lines such as
//
//	BenchmarkCycle/scs-memstore/typical-2  16408  72301 ns/op  188.0 wire-B/op ...
//
// and returns, for each implementation of the given size, the median
// ns/op and wire-B/op, fastest first.
func parse(r io.Reader, size string) ([]row, error) {
	times, wires := map[string][]float64{}, map[string][]float64{}
	var order []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkCycle/") {
			continue
		}
		parts := strings.Split(strings.TrimPrefix(f[0], "BenchmarkCycle/"), "/")
		if len(parts) != 2 || !strings.HasPrefix(parts[1], size) {
			continue
		}
		name := parts[0]
		if _, seen := times[name]; !seen {
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not a number", f[0], f[i])
			}
			switch f[i+1] {
			case "ns/op":
				times[name] = append(times[name], v/1000)
			case "wire-B/op":
				wires[name] = append(wires[name], v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	rows := make([]row, 0, len(order))
	for _, name := range order {
		rows = append(rows, row{name, median(times[name]), median(wires[name])})
	}
	slices.SortStableFunc(rows, func(a, b row) int { return cmp.Compare(a.microseconds, b.microseconds) })
	return rows, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Sorted(slices.Values(v))
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

// render draws two horizontal bar charts side by side: time per request
// and bytes on the wire per request.
func render(w io.Writer, rows []row) error {
	names := make([]string, len(rows))
	times, wires := make(plotter.Values, len(rows)), make(plotter.Values, len(rows))
	for i, r := range rows {
		names[i], times[i], wires[i] = r.name, r.microseconds, r.wireBytes
	}
	timePlot, err := bars("Time per request (µs, median)", times, names)
	if err != nil {
		return err
	}
	wirePlot, err := bars("Bytes on the wire per request", wires, nil)
	if err != nil {
		return err
	}
	canvas := vgsvg.New(22*vg.Centimeter, vg.Length(len(rows))*0.9*vg.Centimeter+2*vg.Centimeter)
	dc := draw.New(canvas)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Centimeter}
	left, right := tiles.At(dc, 0, 0), tiles.At(dc, 1, 0)
	timePlot.Draw(left)
	wirePlot.Draw(right)
	_, err = canvas.WriteTo(w)
	return err
}

func bars(title string, values plotter.Values, names []string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	b, err := plotter.NewBarChart(values, 0.5*vg.Centimeter)
	if err != nil {
		return nil, err
	}
	b.Horizontal = true
	b.Color = color.RGBA{R: 0x3b, G: 0x6e, B: 0xa5, A: 0xff}
	b.LineStyle.Width = 0
	p.Add(b)
	if names != nil {
		p.NominalY(names...)
	} else {
		p.HideY()
	}
	p.X.Min = 0
	return p, nil
}
