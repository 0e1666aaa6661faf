//go:build linux

package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// colors tell the implementations apart in every chart; the cookie
// sessions are drawn solid, the stores dashed, net/http alone dotted.
var colors = map[string]color.Color{
	"no-session":            color.RGBA{0x33, 0x33, 0x33, 0xff},
	"cookiesession":         color.RGBA{0x3b, 0x6e, 0xa5, 0xff},
	"cookiesession-compact": color.RGBA{0x2a, 0xa1, 0x98, 0xff},
	"gorilla-cookiestore":   color.RGBA{0x99, 0x99, 0x99, 0xff},
	"scs-memstore":          color.RGBA{0x59, 0x8c, 0x2c, 0xff},
	"scs-redis":             color.RGBA{0xc0, 0x39, 0x2b, 0xff},
	"scs-postgres":          color.RGBA{0x8e, 0x44, 0xad, 0xff},
}

// lineStyle is an implementation's line.
func lineStyle(im impl) draw.LineStyle {
	st := draw.LineStyle{Color: colors[im.Name], Width: vg.Points(1.5)}
	switch {
	case im.baseline():
		st.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
	case im.Store != "":
		st.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	return st
}

// ring marks a crossover.
var ring = draw.GlyphStyle{Shape: draw.RingGlyph{}, Radius: vg.Points(5), Color: color.Black}

// curve is one implementation's line in a panel.
type curve struct {
	impl impl
	ys   []float64 // per size, NaN where it failed
	// style, when set, replaces the implementation's line style.
	style *draw.LineStyle
}

// legendEntry is a line the legend explains besides the implementations.
type legendEntry struct {
	name  string
	style draw.LineStyle
}

// protoDashes tell the protocols apart in the bytes chart; the colour is
// the implementation's.
var protoDashes = map[string][]vg.Length{
	"h1":        nil,
	"h2":        {vg.Points(5), vg.Points(3)},
	"h2-64k":    {vg.Points(8), vg.Points(2), vg.Points(2), vg.Points(2)},
	"h2-static": {vg.Points(1), vg.Points(2)},
}

// writeBytesChart draws the bytes a request wrote (up) and read (down) on
// the wire against session size, per route: one line per implementation
// and protocol.
func (res *results) writeBytesChart(w io.Writer) error {
	var grid [][]panel
	for _, route := range []string{"read", "incr"} {
		var cols []panel
		for _, dir := range []string{"up", "down"} {
			pn := panel{title: fmt.Sprintf("%s: bytes %s per request, over TLS", route, dir), yLabel: "bytes on the wire", logY: true}
			for _, name := range wireImpls {
				im := impls[implIndex(name)]
				for _, pr := range res.Protocols {
					ys := make([]float64, len(res.Plan.Sizes))
					for i, size := range res.Plan.Sizes {
						ys[i] = math.NaN()
						if r := res.rowAt(name, size, 0); r != nil {
							if f := r.wire(route, pr.Key); f != nil {
								ys[i] = f.UpB
								if dir == "down" {
									ys[i] = f.DownB
								}
							}
						}
					}
					st := draw.LineStyle{Color: colors[name], Width: vg.Points(1.5), Dashes: protoDashes[pr.Key]}
					pn.curves = append(pn.curves, curve{im, ys, &st})
				}
			}
			cols = append(cols, pn)
		}
		grid = append(grid, cols)
	}
	var extra []legendEntry
	for _, pr := range res.Protocols {
		extra = append(extra, legendEntry{pr.Name, draw.LineStyle{Color: color.Black, Width: vg.Points(1.5), Dashes: protoDashes[pr.Key]}})
	}
	return res.draw(w, grid, 12*vg.Centimeter, 9*vg.Centimeter, wireImpls, extra...)
}

// panel is one chart of a figure against session size.
type panel struct {
	title, yLabel string
	logY          bool
	curves        []curve
	// marks are crossovers: a cookie session's curve meets a store's.
	marks []crossing
}

// latencyProto is the protocol the latency charts draw the upload in:
// what browsers speak to HTTPS sites.
const latencyProto = "h2"

// writeLatencyChart draws, for one route, the latency a user feels
// (median on loopback plus the upload of the bytes an HTTP/2 request
// wrote on the wire) against session size: a column per store distance,
// a row per link.
func (res *results) writeLatencyChart(w io.Writer, route string) error {
	var panels [][]panel
	for _, l := range res.Links {
		var cols []panel
		for _, d := range res.Plan.Distances {
			ms := int(d.Milliseconds())
			f := felt(route, latencyProto, l)
			felt := func(r *row, ph *phase) float64 { return f(r, ph) / 1e3 }
			pn := panel{
				title:  fmt.Sprintf("%s: stores +%d ms, %s, HTTP/2", route, ms, l.Name),
				yLabel: "ms per request (p50 + upload)",
				logY:   true,
			}
			for _, im := range impls {
				rtt := 0
				if im.remote() {
					rtt = ms
				}
				pn.curves = append(pn.curves, curve{impl: im, ys: res.series(im.Name, rtt, route, "rate", felt)})
			}
			for _, st := range res.storesAt() {
				if st.impl.remote() && st.rttMs != ms {
					continue
				}
				for _, c := range cookieImpls {
					if x := res.latencyCrossing(c, st, route, latencyProto, l); x.Kind == "at" {
						x.Y /= 1e3
						pn.marks = append(pn.marks, x)
					}
				}
			}
			cols = append(cols, pn)
		}
		panels = append(panels, cols)
	}
	return res.draw(w, panels, 10*vg.Centimeter, 7.5*vg.Centimeter, nil)
}

// writeCPUChart draws the server's and the store's CPU time per request
// against session size, with the stores on loopback: at the fixed rate
// (top) and flat out (bottom).
func (res *results) writeCPUChart(w io.Writer) error {
	var grid [][]panel
	for _, mode := range []string{"rate", "closed"} {
		var row []panel
		for _, route := range []string{"read", "incr"} {
			title := fmt.Sprintf("%s at %d requests/s: server + store CPU, stores +0 ms", route, res.Plan.Rate)
			if mode == "closed" {
				title = route + " flat out: server + store CPU, stores +0 ms"
			}
			pn := panel{title: title, yLabel: "µs of CPU per request"}
			for _, im := range impls {
				pn.curves = append(pn.curves, curve{impl: im, ys: res.series(im.Name, 0, route, mode, cpu)})
			}
			for _, st := range res.storesAt() {
				if st.rttMs != 0 {
					continue
				}
				for _, c := range cookieImpls {
					if x := res.cpuCrossing(c, st, route, mode); x.Kind == "at" {
						pn.marks = append(pn.marks, x)
					}
				}
			}
			row = append(row, pn)
		}
		grid = append(grid, row)
	}
	return res.draw(w, grid, 12*vg.Centimeter, 9*vg.Centimeter, nil)
}

// legendWidth is the strip on the right that holds the one legend.
const legendWidth = 7.5 * vg.Centimeter

// draw lays the panels out in a grid, with the legend on the right, and
// writes it as SVG. The legend names the implementations named (all when
// none are), then the extra lines.
func (res *results) draw(w io.Writer, grid [][]panel, width, height vg.Length, named []string, extra ...legendEntry) error {
	rows, cols := len(grid), len(grid[0])
	canvas := vgsvg.New(vg.Length(cols)*width+legendWidth, vg.Length(rows)*height)
	dc := draw.New(canvas)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Centimeter / 2, PadY: vg.Centimeter / 2,
		PadTop: vg.Centimeter / 4, PadBottom: vg.Centimeter / 4, PadLeft: vg.Centimeter / 4, PadRight: vg.Centimeter / 4}
	panels := draw.Crop(dc, 0, -legendWidth, 0, 0)
	for r, cells := range grid {
		for c, pn := range cells {
			p, err := res.plot(pn)
			if err != nil {
				return err
			}
			p.Draw(tiles.At(panels, c, r))
		}
	}
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	legend.TextStyle.Font.Size = vg.Points(10)
	for _, im := range impls {
		if named != nil && !slices.Contains(named, im.Name) {
			continue
		}
		name := im.Name
		if from := res.failsFrom(im.Name); from > 0 {
			name += fmt.Sprintf(" (fails from %s)", bytesLabel(float64(from)))
		}
		st := lineStyle(im)
		if extra != nil {
			st.Dashes = nil // the extra lines say what the dashes mean
		}
		legend.Add(name, &plotter.Line{LineStyle: st})
	}
	for _, e := range extra {
		legend.Add(e.name, &plotter.Line{LineStyle: e.style})
	}
	if extra == nil {
		legend.Add("crossover", &plotter.Scatter{GlyphStyle: ring})
	}
	legend.Draw(draw.Crop(dc, vg.Length(cols)*width+vg.Centimeter/2, 0, 0, -vg.Centimeter/2))
	_, err := canvas.WriteTo(w)
	return err
}

// plot makes one panel: a log scale of session size, one line per
// implementation (broken where it failed), a ring at each crossover.
func (res *results) plot(pn panel) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = pn.title
	p.X.Label.Text = "session size (bytes of JSON)"
	p.Y.Label.Text = pn.yLabel
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	for _, s := range res.Plan.Sizes {
		// "2K", not "2 KB": the ticks at 2 and 3.5 KB stand close.
		label := strings.ReplaceAll(strings.TrimSuffix(bytesLabel(float64(s)), " B"), " K", "K")
		ticks = append(ticks, plot.Tick{Value: float64(s), Label: label})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	if pn.logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = oneTwoFive{}
	} else {
		p.Y.Min = 0
	}
	for _, c := range pn.curves {
		var xys plotter.XYs
		for i, y := range c.ys {
			if !math.IsNaN(y) && y > 0 {
				xys = append(xys, plotter.XY{X: float64(res.Plan.Sizes[i]), Y: y})
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		line.LineStyle = lineStyle(c.impl)
		if c.style != nil {
			line.LineStyle = *c.style
		}
		points.Shape, points.Radius, points.Color = draw.CircleGlyph{}, vg.Points(2), colors[c.impl.Name]
		if c.impl.baseline() {
			p.Add(line) // measured at one size: no points
		} else {
			p.Add(line, points)
		}
	}
	if len(pn.marks) > 0 {
		var xys plotter.XYs
		for _, m := range pn.marks {
			xys = append(xys, plotter.XY{X: m.At, Y: m.Y})
		}
		rings, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, err
		}
		rings.GlyphStyle = ring
		p.Add(rings)
	}
	return p, nil
}

// oneTwoFive labels a log axis at 1, 2 and 5 times the powers of ten: a
// panel that spans less than a decade still gets labels.
type oneTwoFive struct{}

// Ticks returns the ticks between min and max.
func (oneTwoFive) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for p := math.Floor(math.Log10(min)); p <= math.Ceil(math.Log10(max)); p++ {
		for _, m := range []float64{1, 2, 5} {
			if v := m * math.Pow(10, p); v >= min && v <= max {
				ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
	}
	return ticks
}
