// Alarms and the dashboard, as infra/stack.json describes them (the SAM template's are generated from it).
//
// The functions publish their own metrics as CloudWatch embedded metric format lines (no SDK call): namespace
// METRICS_NAMESPACE; `Requests` [Function, Outcome]; `Latency` (ms) [Function]; `JwksFetches`,
// `JwksFetchFailures`, `SecretReadFailures` [Function]. `Function` is the function's name.
import { Aws, CfnCondition, CfnResource, Fn } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { Refs, alarmsOf, subOf } from './facts';

/** The alarms of infra/stack.json; each notifies the optional topic (AlarmTopicArn) under HasAlarmTopic. */
export function addAlarms(scope: Construct, alarmTopicArn: string, refs: Refs): CfnResource[] {
  new CfnCondition(scope, 'HasAlarmTopic', { expression: Fn.conditionNot(Fn.conditionEquals(alarmTopicArn, '')) });
  return alarmsOf(refs).map(
    ({ id, name, properties }) =>
      new CfnResource(scope, id, {
        type: 'AWS::CloudWatch::Alarm',
        // The stack name as a pseudo parameter (not the synth-time name): the same names as the SAM template's.
        properties: { AlarmName: `${Aws.STACK_NAME}-${name}`, ...properties },
      }),
  );
}

/** The dashboard; its body is infra/dashboard.json, a Fn::Sub template over the API id and function names. */
export function addDashboard(scope: Construct, refs: Refs): cloudwatch.CfnDashboard {
  return new cloudwatch.CfnDashboard(scope, 'Dashboard', {
    dashboardName: `${Aws.STACK_NAME}-m2m`,
    dashboardBody: Fn.sub(...subOf('dashboard', refs)),
  });
}
