#include "jobs/harness/svg_chart.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace jobs::harness {
namespace {

constexpr double kWidth = 900, kPanelHeight = 320, kLeft = 90, kRight = 30, kTop = 70, kBottom = 60;

std::string escape(const std::string& text) {
    std::string out;
    for (const char c : text) {
        if (c == '<')
            out += "&lt;";
        else if (c == '>')
            out += "&gt;";
        else if (c == '&')
            out += "&amp;";
        else
            out += c;
    }
    return out;
}

// About five round tick steps across [lo, hi].
double tick_step(double lo, double hi) {
    const double span = std::max(hi - lo, 1e-9);
    const double raw = span / 5;
    const double magnitude = std::pow(10, std::floor(std::log10(raw)));
    for (const double m : {1.0, 2.0, 5.0, 10.0}) {
        if (raw <= m * magnitude) return m * magnitude;
    }
    return 10 * magnitude;
}

std::string number(double v) {
    return std::abs(v) >= 1000 || v == std::floor(v) ? fmt::format("{:.0f}", v)
                                                     : fmt::format("{:.2g}", v);
}

std::string render_panel(const Panel& p, double top) {
    double x_lo = 1e300, x_hi = -1e300, y_hi = 0;
    for (const auto& s : p.series) {
        for (const double x : s.x)
            x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x + (p.bars ? p.bar_width : 0));
        for (const double y : s.y) y_hi = std::max(y_hi, y);
    }
    if (x_lo > x_hi) x_lo = 0, x_hi = 1;
    if (x_hi == x_lo) x_hi = x_lo + 1;
    y_hi = y_hi <= 0 ? 1 : y_hi * 1.1;
    const double plot_w = kWidth - kLeft - kRight, plot_h = kPanelHeight - kTop - kBottom + 20;
    const double y0 = top + 40;  // plot area's top
    const auto sx = [&](double x) { return kLeft + (x - x_lo) / (x_hi - x_lo) * plot_w; };
    const auto sy = [&](double y) { return y0 + plot_h - y / y_hi * plot_h; };

    std::string out =
        fmt::format(R"(<text x="{}" y="{}" font-size="16" font-weight="bold">{}</text>)", kLeft,
                    top + 25, escape(p.title));
    // Grid and ticks.
    const double ys = tick_step(0, y_hi);
    for (double y = 0; y <= y_hi; y += ys) {
        out += fmt::format(R"(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#ddd"/>)",
                           kLeft, sy(y), kLeft + plot_w, sy(y));
        out += fmt::format(R"(<text x="{}" y="{:.1f}" font-size="11" text-anchor="end">{}</text>)",
                           kLeft - 6, sy(y) + 4, number(y));
    }
    bool whole_x = true;  // counts (instances) get whole-number ticks
    for (const auto& s : p.series) {
        for (const double x : s.x) whole_x = whole_x && x == std::floor(x);
    }
    const double xs = whole_x ? std::max(1.0, tick_step(x_lo, x_hi)) : tick_step(x_lo, x_hi);
    for (double x = std::ceil(x_lo / xs) * xs; x <= x_hi + 1e-9; x += xs) {
        out +=
            fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#999"/>)",
                        sx(x), y0 + plot_h, sx(x), y0 + plot_h + 5);
        out += fmt::format(
            R"(<text x="{:.1f}" y="{:.1f}" font-size="11" text-anchor="middle">{}</text>)", sx(x),
            y0 + plot_h + 18, number(x));
    }
    out += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#333"/>)",
                       kLeft, y0, plot_w, plot_h);
    out += fmt::format(R"(<text x="{}" y="{:.1f}" font-size="12" text-anchor="middle">{}</text>)",
                       kLeft + plot_w / 2, y0 + plot_h + 38, escape(p.x_label));
    out += fmt::format(
        R"svg(<text x="20" y="{:.1f}" font-size="12" text-anchor="middle" transform="rotate(-90 20 {:.1f})">{}</text>)svg",
        y0 + plot_h / 2, y0 + plot_h / 2, escape(p.y_label));
    // Data.
    double legend_x = kLeft + 10;
    for (const auto& s : p.series) {
        if (p.bars) {
            for (std::size_t i = 0; i < s.x.size(); ++i) {
                out += fmt::format(
                    R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}"/>)",
                    sx(s.x[i]), sy(s.y[i]),
                    std::max(1.0, sx(s.x[i] + p.bar_width) - sx(s.x[i]) - 1),
                    y0 + plot_h - sy(s.y[i]), s.color);
            }
        } else if (p.points) {
            for (std::size_t i = 0; i < s.x.size(); ++i) {
                out += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="1.8" fill="{}"/>)",
                                   sx(s.x[i]), sy(s.y[i]), s.color);
            }
        } else {
            std::string path;
            for (std::size_t i = 0; i < s.x.size(); ++i) {
                path += fmt::format("{}{:.1f},{:.1f} ", i == 0 ? "M" : "L", sx(s.x[i]), sy(s.y[i]));
                out += fmt::format(
                    R"(<circle cx="{:.1f}" cy="{:.1f}" r="3.5" fill="{}"><title>{}: {}</title></circle>)",
                    sx(s.x[i]), sy(s.y[i]), s.color, escape(s.name), number(s.y[i]));
            }
            out += fmt::format(R"(<path d="{}" fill="none" stroke="{}" stroke-width="2"/>)", path,
                               s.color);
        }
        if (p.series.size() > 1 || !p.bars) {
            out += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="12" height="12" fill="{}"/>)",
                               legend_x, y0 + 8, s.color);
            out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="12">{}</text>)",
                               legend_x + 16, y0 + 18, escape(s.name));
            legend_x += 30 + 7.0 * static_cast<double>(s.name.size());
        }
    }
    return out;
}

}  // namespace

std::string render_svg(const std::string& title, const std::vector<Panel>& panels) {
    const double height = 50 + kPanelHeight * static_cast<double>(panels.size());
    std::string out = fmt::format(
        R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif">)"
        R"(<rect width="100%" height="100%" fill="white"/>)"
        R"(<text x="{}" y="30" font-size="20" font-weight="bold" text-anchor="middle">{}</text>)",
        kWidth, height, kWidth / 2, escape(title));
    for (std::size_t i = 0; i < panels.size(); ++i)
        out += render_panel(panels[i], 40 + kPanelHeight * static_cast<double>(i));
    return out + "</svg>\n";
}

}  // namespace jobs::harness
