//! ECS helpers shared by jobs, task-events and reconciler (issue 4).
