"""The send panel's widgets, built and laid out: the files, the table and preview, sending.

Presentation only: what the widgets show and how they react is the panel's
(:mod:`docmail_nb.sendpanel`, :mod:`docmail_nb.sendpanel.table`).
"""

from __future__ import annotations

from pathlib import Path

import ipywidgets as w

from docmail_nb._grid import MessageGrid
from docmail_nb._panelkit import CSS, FIELD_LAYOUT, LABEL_STYLE, PathField
from docmail_nb._sample import sample_dir

__all__ = ["PanelControls"]


class PanelControls:
    """The send panel's widgets: made by the ``_build_*`` methods, placed by ``_layout``."""

    def _build_inputs(
        self,
        orders: str | Path | None,
        template: str | Path | None,
        documents: str | Path | None,
        remembered: dict[str, str],
    ) -> None:
        """The files: orders (or an upload), sheet, template (and its editor), documents."""
        sample = sample_dir()
        self.orders_path = PathField(
            "Orders file",
            orders or remembered.get("orders") or sample / "orders.xlsx",
            pattern=["*.xlsx", "*.xls", "*.ods", "*.csv"],
        )
        self.upload = w.FileUpload(description="Upload", accept=".xlsx,.xls,.ods,.csv")
        self.orders_path.widget.layout.flex = "1 1 30em"  # beside Upload, in a row
        self.sheet = w.Dropdown(description="Sheet", style=LABEL_STYLE, layout=FIELD_LAYOUT)
        self.template_path = PathField(
            "Template file",
            template or remembered.get("template") or sample / "templates" / "invoice.txt",
            pattern=["*.txt", "*.tmpl", "*.eml"],
        )
        self.template_text = w.Textarea(
            continuous_update=False, layout={"width": "100%", "height": "16em"}
        )
        self.template_box = w.Accordion(children=[self.template_text], titles=("Edit template",))
        self.template_box.selected_index = None
        self.documents = PathField(
            "Documents folder",
            documents
            or remembered.get("documents")
            or (sample / "documents" if orders is None else ""),
            folder=True,
        )
        self.check_button = w.Button(description="Check again", layout={"width": "auto"})
        self.summary = w.HTML(layout={"flex": "1 1 20em"})

    def _build_table(self) -> None:
        """The messages as a table to search, filter, sort and walk through; the preview."""
        self.show = w.Dropdown(
            description="Show", style={"description_width": "auto"},
            layout={"flex": "0 1 16em", "width": "auto"},
        )  # fmt: skip
        self.columns = w.SelectMultiple(
            description="Columns", rows=3, style={"description_width": "auto"},
            tooltip="The sheet's columns to show beside key and address (Ctrl-click: more)",
            layout={"width": "100%", "max_width": "40em"},
        )  # fmt: skip
        # a table of page elements: sorts by a click on a header, filters, keys walk it
        self.grid = MessageGrid(layout={"width": "100%"})
        self.grid.add_class("docmail-table")
        self.previous_button = w.Button(description="◀ Previous", layout={"width": "auto"})
        self.next_button = w.Button(description="Next ▶", layout={"width": "auto"})
        self.position = w.HTML()
        self.preview = w.HTML(layout={"width": "100%"})
        self.raw_toggle = w.ToggleButton(
            description="Raw message", tooltip="Every header and part, as sent",
            layout={"width": "auto"},
        )  # fmt: skip
        self.raw = w.HTML(layout={"width": "100%", "display": "none"})

    def _build_sending(self) -> None:
        """Test, Send and Stop; the confirmation, progress, status, offers and downloads."""
        self.test_button = w.Button(description="Send test to me", layout={"width": "auto"})
        self.send_button = w.Button(
            description="Send", button_style="primary", layout={"width": "auto"}
        )
        self.stop_button = w.Button(
            description="Stop", button_style="warning", disabled=True,
            tooltip="End the run after the message being sent", layout={"width": "auto"},
        )  # fmt: skip
        self.confirm_text = w.HTML()
        self.yes_button = w.Button(description="Yes, send", button_style="danger")
        self.cancel_button = w.Button(description="Cancel")
        self.confirm_box = w.VBox(
            [self.confirm_text, w.HBox([self.yes_button, self.cancel_button])],
            layout={"display": "none", "border": "1px solid #d9a400", "padding": "6px"},
        )
        self.progress = w.IntProgress(min=0, max=1, value=0, layout={"width": "100%"})
        self.progress_text = w.HTML()
        self.progress_box = w.VBox(
            [self.progress, self.progress_text], layout={"display": "none", "width": "100%"}
        )
        self.status = w.HTML(layout={"width": "100%"})
        self.offer_text = w.HTML()
        self.resend_unknown_button = w.Button(description="Resend unknown…")
        self.resend_changed_button = w.Button(description="Resend changed…")
        self.resend_bounced_button = w.Button(description="Resend bounced…")
        offers = [
            self.resend_unknown_button,
            self.resend_changed_button,
            self.resend_bounced_button,
        ]
        self.offer_box = w.VBox(
            [self.offer_text, w.HBox(offers)],
            layout={"display": "none", "border": "1px solid #ccc", "padding": "6px"},
        )
        self.download = w.HTML()
        self.failed_path = w.Text(
            description="Failed rows file", value="failed_rows.xlsx",
            style=LABEL_STYLE, layout={"flex": "1 1 20em", "width": "auto"},
        )  # fmt: skip
        self.save_failed_button = w.Button(description="Save failed rows")
        self.failed_box = w.HBox(
            [self.failed_path, self.save_failed_button],
            layout={"display": "none", "flex_flow": "row wrap", "width": "100%"},
        )
        self.via = w.HTML()

    def _layout(self) -> w.VBox:
        """Everything in one column; rows of controls wrap on narrow notebooks."""
        wrap = {"flex_flow": "row wrap", "align_items": "center", "width": "100%"}
        panel = w.VBox(
            [
                w.HTML(CSS + "<h3 style='margin:0 0 6px 0'>Preview and send</h3>"),
                self.via,
                w.HBox([self.orders_path.widget, self.upload], layout=wrap),
                self.sheet,
                self.template_path.widget,
                self.template_box,
                self.documents.widget,
                w.HBox([self.check_button, self.summary], layout=wrap),
                w.HBox([self.show, self.columns], layout=wrap),
                self.grid,
                w.HBox(
                    [self.previous_button, self.next_button, self.position, self.raw_toggle],
                    layout=wrap,
                ),
                self.preview,
                self.raw,
                w.HBox([self.test_button, self.send_button, self.stop_button], layout=wrap),
                self.confirm_box,
                self.progress_box,
                self.status,
                self.offer_box,
                self.download,
                self.failed_box,
            ],
            layout={"width": "100%", "max_width": "100%", "padding": "4px"},
        )
        panel.add_class("docmail-send")
        return panel
