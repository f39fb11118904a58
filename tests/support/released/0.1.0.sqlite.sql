-- The schema release 0.1.0 made (its 0001_initial: schema.metadata.create_all), as
-- sqlite DDL; frozen: a database made by that release, for the migration tests.

CREATE TABLE actions (
	"key" VARCHAR(400) NOT NULL,
	kind VARCHAR(40) NOT NULL,
	employee_id VARCHAR(200) NOT NULL,
	course_id VARCHAR(200),
	goal_key VARCHAR(400),
	state VARCHAR(30) NOT NULL,
	payload TEXT NOT NULL,
	result TEXT,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY ("key")
);

CREATE INDEX ix_actions_employee ON actions (employee_id, state);

CREATE TABLE approvals (
	id INTEGER NOT NULL,
	employee_id VARCHAR(200) NOT NULL,
	review_source VARCHAR(100) NOT NULL,
	review_id VARCHAR(200) NOT NULL,
	summary TEXT NOT NULL,
	payload TEXT NOT NULL,
	state VARCHAR(20) NOT NULL,
	decided_by VARCHAR(200),
	decided_at DATETIME,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_approvals_review UNIQUE (review_source, review_id)
);

CREATE TABLE assignments (
	employee_id VARCHAR(200) NOT NULL,
	course_id VARCHAR(200) NOT NULL,
	goal_key VARCHAR(400) NOT NULL,
	review_id VARCHAR(200) NOT NULL,
	state VARCHAR(20) NOT NULL,
	due_date VARCHAR(10),
	enrolled_at DATETIME,
	completed_at DATETIME,
	PRIMARY KEY (employee_id, course_id, goal_key)
);

CREATE TABLE audit (
	id INTEGER NOT NULL,
	at DATETIME NOT NULL,
	employee_id VARCHAR(200),
	event VARCHAR(60) NOT NULL,
	message TEXT NOT NULL,
	cause TEXT,
	ref VARCHAR(400),
	PRIMARY KEY (id)
);

CREATE INDEX ix_audit_employee ON audit (employee_id, id);

CREATE TABLE completions (
	source VARCHAR(100) NOT NULL,
	event_id VARCHAR(300) NOT NULL,
	employee_id VARCHAR(200),
	lms_user_id VARCHAR(200),
	course_id VARCHAR(200) NOT NULL,
	outcome VARCHAR(20) NOT NULL,
	completed_at DATETIME NOT NULL,
	score FLOAT,
	certificate_url TEXT,
	expires_at DATETIME,
	recorded_at DATETIME NOT NULL,
	PRIMARY KEY (source, event_id)
);

CREATE INDEX ix_completions_employee_course ON completions (employee_id, course_id);

CREATE TABLE cursors (
	name VARCHAR(100) NOT NULL,
	value TEXT,
	last_success_at DATETIME,
	last_error TEXT,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (name)
);

CREATE TABLE evidence (
	goal_key VARCHAR(400) NOT NULL,
	course_id VARCHAR(200) NOT NULL,
	completion_event VARCHAR(300) NOT NULL,
	completed_at DATETIME NOT NULL,
	posted_at DATETIME NOT NULL,
	PRIMARY KEY (goal_key, course_id)
);

CREATE TABLE goals (
	goal_key VARCHAR(400) NOT NULL,
	employee_id VARCHAR(200) NOT NULL,
	skill_id VARCHAR(200) NOT NULL,
	cycle VARCHAR(100) NOT NULL,
	title TEXT NOT NULL,
	course_ids TEXT NOT NULL,
	tracker VARCHAR(40),
	goal_id VARCHAR(200),
	milestone_ids TEXT,
	state VARCHAR(20) NOT NULL,
	progress FLOAT NOT NULL,
	gap_found_at DATETIME NOT NULL,
	due_date VARCHAR(10),
	rule_index INTEGER,
	opened_at DATETIME,
	closed_at DATETIME,
	PRIMARY KEY (goal_key)
);

CREATE INDEX ix_goals_employee ON goals (employee_id, state);

CREATE TABLE identities (
	employee_id VARCHAR(200) NOT NULL,
	email VARCHAR(320),
	first_name VARCHAR(200),
	last_name VARCHAR(200),
	role VARCHAR(200),
	manager_id VARCHAR(200),
	lms_user_id VARCHAR(200),
	match_state VARCHAR(20) NOT NULL,
	match_note TEXT,
	active BOOLEAN NOT NULL,
	left_at DATETIME,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (employee_id)
);

CREATE INDEX ix_identities_email ON identities (email);

CREATE INDEX ix_identities_lms_user ON identities (lms_user_id);

CREATE TABLE inbox (
	id INTEGER NOT NULL,
	source VARCHAR(100) NOT NULL,
	event_id VARCHAR(300) NOT NULL,
	kind VARCHAR(40) NOT NULL,
	employee_id VARCHAR(200),
	payload TEXT NOT NULL,
	raw BLOB,
	received_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_inbox_source_event UNIQUE (source, event_id)
);

CREATE TABLE jobs (
	id INTEGER NOT NULL,
	kind VARCHAR(40) NOT NULL,
	payload TEXT NOT NULL,
	employee_id VARCHAR(200),
	inbox_id INTEGER,
	state VARCHAR(20) NOT NULL,
	attempts INTEGER NOT NULL,
	max_attempts INTEGER NOT NULL,
	run_after FLOAT NOT NULL,
	lease_owner VARCHAR(100),
	lease_expires FLOAT,
	last_error TEXT,
	created_at FLOAT NOT NULL,
	finished_at FLOAT,
	PRIMARY KEY (id)
);

CREATE INDEX ix_jobs_claim ON jobs (state, run_after, id);

CREATE INDEX ix_jobs_employee ON jobs (employee_id, state, id);

CREATE TABLE rate_budget (
	vendor VARCHAR(100) NOT NULL,
	tokens FLOAT NOT NULL,
	capacity FLOAT NOT NULL,
	refill_per_second FLOAT NOT NULL,
	updated_at FLOAT NOT NULL,
	PRIMARY KEY (vendor)
);

CREATE TABLE reviews (
	source VARCHAR(100) NOT NULL,
	review_id VARCHAR(200) NOT NULL,
	employee_id VARCHAR(200) NOT NULL,
	cycle VARCHAR(100) NOT NULL,
	completed_at DATETIME NOT NULL,
	fingerprint VARCHAR(40) NOT NULL,
	planned_at DATETIME NOT NULL,
	PRIMARY KEY (source, review_id)
);

CREATE TABLE schema_migrations (
	name VARCHAR(200) NOT NULL,
	applied_at DATETIME NOT NULL,
	PRIMARY KEY (name)
);
