package hyperformer

// PacksRows declares (core.RowPacker) that HyperFormer's hooks treat every row on its own —
// each row gets the adapter the run's hypernetwork generates for that row's task — so its
// runs can share backbone passes with other runs' rows (engine.RunPacked, `ptbench run
// --pack`). Not while it trains T5's layer norms (unfreeze_layer_norms, the reference's
// default): those are the backbone's, which a pack shares.
func (m *Method) PacksRows() bool { return !m.cfg.TrainNorms }
