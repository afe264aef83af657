#pragma once

#include <string>
#include <vector>

namespace jobs::harness {

struct Series {
    std::string name;
    std::string color;
    std::vector<double> x, y;
};

struct Panel {
    std::string title;
    std::string x_label;  // with units
    std::string y_label;  // with units
    std::vector<Series> series;
    bool bars = false;  // a histogram: each (x, y) a bar of width bar_width
    double bar_width = 1;
    bool points = false;  // a scatter plot instead of lines
};

// Panels stacked vertically in one self-contained SVG, with axes, ticks and a legend.
std::string render_svg(const std::string& title, const std::vector<Panel>& panels);

}  // namespace jobs::harness
