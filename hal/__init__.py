"""Hardware abstraction layer: device ports (Protocols) and the real drivers behind them."""
