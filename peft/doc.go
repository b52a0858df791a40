// Package peft reads and writes Hugging Face PEFT adapter folders, and exports the methods
// PEFT lacks in a documented native format.
//
// A PEFT folder holds adapter_config.json (the config's fields, keys sorted, two-space
// indent, as PeftConfig.save_pretrained writes it) and adapter_model.safetensors (the state
// dict of get_peft_model_state_dict: keys without the adapter name "default"; metadata
// {"format": "pt"}). Facts taken from PEFT's source (huggingface/peft, src/peft/config.py,
// tuners/prompt_tuning/config.py, tuners/lora/config.py, utils/save_and_load.py,
// tuners/tuners_utils.py, peft_model.py).
//
// # The mapping
//
// Common fields: base_model_name_or_path is the backbone recorded in the run's row (an HF id,
// a directory or a preset name); task_type is SEQ_2_SEQ_LM for an encoder–decoder (T5) and
// CAUSAL_LM for a decoder-only backbone (Llama); inference_mode true; revision and
// auto_mapping null. peft_version is not written (PEFT fills it when loading).
//
// pt ↔ PROMPT_TUNING. The prompt P ∈ R^{l×d} is the tensor "prompt_embeddings" [l, d]
// (BasePromptEncoder._get_adapter_state_dict saves the embedding of prompt tokens
// 0..n·k−1); num_virtual_tokens = l, token_dim = d, num_transformer_submodules = 1,
// prompt_tuning_init "RANDOM" (the init is irrelevant once the weights load; ptbench's own
// init is recorded in the safetensors metadata), num_layers and num_attention_heads null
// (PEFT's _prepare_prompt_learning_config fills them from the model's config). With
// num_transformer_submodules 1, PeftModelForSeq2SeqLM.forward prepends prompts[:, :n] to the
// encoder's inputs_embeds and n ones to the attention mask and leaves the decoder alone —
// exactly ptbench's PT (H0 = [P ; E], mask extended by ones). PEFT's own default for
// SEQ_2_SEQ_LM is 2 (null with that task_type resolves to it): the embedding then has 2n
// rows, but PEFT's prompt-tuning forward and generate still prepend only prompts[:, :n] to
// the encoder (the decoder branch serves the other prompt types, e.g. multitask prompt
// tuning), so the last n rows are never used or trained; such a folder imports its first n
// rows, which is what PEFT runs. Other counts, and 2 on a decoder-only backbone, are refused.
// A folder with modules_to_save is refused (PEFT would load and train those modules too).
// For CAUSAL_LM PEFT
// prepends the prompt to inputs_embeds as well; ptbench's Llama PT places it the same way,
// but that path is not checked against PEFT here.
//
// lora ↔ LORA. A site's A [r, in] and B [out, r] are saved as
// "base_model.model.<module>.lora_A.weight" and "…lora_B.weight", where <module> is the
// site's name, which is the Hugging Face module name (T5:
// encoder.block.{i}.layer.0.SelfAttention.q, decoder.block.{i}.layer.0.SelfAttention.q,
// decoder.block.{i}.layer.1.EncDecAttention.q; Llama: model.layers.{i}.self_attn.q_proj).
// r = rank, lora_alpha = α (PEFT's scaling is lora_alpha/r, ours α/r), lora_dropout =
// dropout, target_modules = the sorted last components of the adapted sites (T5's default
// q and v on every attention gives ["q", "v"], which in PEFT also matches EncDecAttention.q
// and .v, the same modules ptbench adapts), bias "none", use_rslora, use_dora and
// fan_in_fan_out false, init_lora_weights true, rank_pattern and alpha_pattern {}. Import
// requires r, lora_alpha and target_modules to equal the method's and the state dict to
// hold exactly the method's sites; rslora, DoRA, per-module rank or alpha patterns, biases
// and layers_to_transform are refused (ptbench's LoRA has no equivalent). Dropout acts only
// in training and is not compared.
//
// # Methods
//
// A method opts in with optional interfaces on its core.Method value: Exporter (checkpoint
// tensors → PEFT config fields and state dict), Importer (a PEFT folder → its parameters
// after Setup; InitFromPEFT makes Setup end with Load, which is what `ptbench run
// --init-from` uses) and Describer (the tensor roles of the native export). Methods PEFT
// lacks (DePT, EPT, …) are exported with ExportNative: <method>.safetensors holding the
// checkpoint's tensors under their own names and <method>.json with the method, its
// config, the backbone, the method's equation and each tensor's name, shape, dtype and role.
// DePT and EPT are described by a table here (from their package docs); a method without a
// description gets names, shapes and dtypes only.
package peft
