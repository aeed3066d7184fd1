"""Files for spreadsheets: formula-safe cells, streamed CSV and XLSX writers, download responses."""
