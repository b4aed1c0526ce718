"""Names vulture reports as unused that are used, each group with why.

Run: vulture (paths and min_confidence from [tool.vulture] in pyproject.toml, this file
included). A name listed here counts as used everywhere, so keep the groups honest: a name
that stops being used by its framework belongs deleted from the code, not kept here.
This file is only parsed by vulture, never imported.
"""
# ruff: noqa

_ = object()

# ---- Textual: class attributes the framework reads -----------------------------------------
_.AUTO_FOCUS
_.BINDINGS
_.CSS_PATH
_.DEFAULT_CSS
_.ENABLE_COMMAND_PALETTE
_.TITLE

# ---- Textual: methods it calls by name (compose, on_<event>, action_<binding>, watch_<reactive>,
# check_action, the Line API's render_line, Suggester.get_suggestion) ------------------------
_.compose
_.on_key
_.on_mount
_.on_resize
_.on_unmount
_.check_action
_.render_line
_.get_suggestion
_.watch_follow
_.watch_pretty_json
_.watch_show_stream
_.watch_show_timestamps
_.watch_theme
_.watch_wrap
_.action_answer
_.action_apply
_.action_back
_.action_bottom
_.action_cancel
_.action_check
_.action_cleanup
_.action_close
_.action_close_filter
_.action_close_prompt
_.action_close_replay
_.action_complete
_.action_confirm
_.action_cost
_.action_delete
_.action_doctor
_.action_exclude
_.action_export
_.action_filter
_.action_follow
_.action_hide_ping
_.action_include
_.action_invoke
_.action_json
_.action_logs
_.action_next_match
_.action_package
_.action_pattern
_.action_pause
_.action_ping
_.action_previous_match
_.action_resubmit
_.action_reverse
_.action_run
_.action_save
_.action_scale_to_zero
_.action_scaling
_.action_search
_.action_simulate
_.action_sort
_.action_status_filter
_.action_stop
_.action_stream
_.action_stream_column
_.action_submit
_.action_timestamps
_.action_top
_.action_window
_.action_wrap

# ---- Textual: message handlers, dispatched through their @on(Message, selector) decorator ------
_._app_worker
_._forward_worker_state
_.batch_arrived
_.batch_planned
_.batch_rejected
_.batch_submitted
_.confirm
_.confirm_plan
_.connection_changed
_.costs_loaded
_.filter_changed
_.filter_submitted
_.fixed
_.header_selected
_.health_checked
_.highlighted
_.input_done
_.load_failed
_.outcomes_arrived
_.path_entered
_.path_submitted
_.preview_loaded
_.prompt_changed
_.prompt_submitted
_.refreshed
_.requests_loaded
_.results_exported
_.row_highlighted
_.row_selected
_.run_changed
_.show_cleanup
_.show_cost
_.show_detail
_.show_history
_.show_metrics
_.show_output
_.show_plan
_.show_plan_error
_.show_progress
_.show_result
_.show_state
_.simulated
_.step_failed
_.streams_listed
_.submit_progressed
_.submitted
_.tail_failed
_.watch_failed

# ---- Textual widget attributes set for their effect (the widget reads them) -------------------
_.auto_width  # DataTable column
_.cursor_position  # Input
_.sub_title  # App
_.virtual_size  # ScrollView

# ---- Parameters a caller's signature fixes (unused in our override) ----------------------------
_.parameters  # Textual check_action(action, parameters)
_.settings_customise_sources  # pydantic-settings calls it by name
_.dotenv_settings
_.file_secret_settings
_.signum  # signal handler (signum, frame)

# ---- pydantic: model_config and the validators its decorators register ------------------------
_.model_config
_._ascii
_._autoscaling_bounds
_._bounds_ordered
_._data
_._datapoints_fit
_._endpoint
_._environment
_._file
_._instance_type
_._kms
_._matrix
_._name
_._not_above_max
_._one_source
_._prefix
_._role
_._s3
_._targets_have_topics
_._topic

# ---- Record fields: part of the --json output (dataclasses.asdict in cli/common.py and
# cli/cost_cmd.py) and of what the UI and tests read -------------------------------------------
_.checked_at
_.execution_role
_.extra_wait_max_s
_.idle_for_s
_.include_response_in
_.log_calls
_.role_arn
_.via

# ---- Read by the tests: the observable state and helpers they assert on ----------------------
_.copied_from  # Ledger.copied_from (tests/diagnose)
_.field_of  # LocatedYaml.field_of (tests/requests/test_located.py)
_.is_s3  # wire.Call.is_s3 (tests/local/test_units.py)
_.last_plan  # ScalingScreen (tests/ops)
_.last_result
_.plotted  # CostScreen (tests/cost)
_.rebuilt_width  # LogView (tests/ui)

# ---- Standard library and third-party hooks, set or overridden for their effect --------------
_.row_factory  # sqlite3.Connection
_.uid  # tarfile.TarInfo: reproducible archives (services/container.py)
_.gid
_.uname
_.gname
_.mtime
_.log_request  # http.server.BaseHTTPRequestHandler override (local daemon: quiet log)
_.send_400_response  # uvicorn's HTTP protocol override (container/app/protocol.py)
_.timeout_graceful_shutdown  # uvicorn Config (container/run_server.py)
_.should_exit  # uvicorn Server
_.graph_optimization_level  # onnxruntime.SessionOptions
_.intra_op_num_threads
_.inter_op_num_threads

# ---- The container: loaded or registered by name, or reported as a whole ---------------------
_.ClassificationHandler  # app/tasks/__init__.py names handlers as "module:Class" strings
_.EmbeddingHandler
_.ImageClassificationHandler
_.SummarizationHandler
_.http_error  # FastAPI @app.exception_handler
_.unexpected
_.gathers  # BatchStats counters, returned whole by /stats (tests/container, bench_peers.py)
_.split_batches
_.failed_requests
_.padded_tokens
