output "dlq_urls" {
  description = "URL of each dead-letter queue (task-events, reconciler)."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.id }
}

output "dlq_arns" {
  description = "ARN of the DLQ of task-events and reconciler (target DLQ and on-failure destination)."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.arn }
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "rule_arn" {
  description = "ARN of the ECS task state change rule."
  value       = aws_cloudwatch_event_rule.this.arn
}
